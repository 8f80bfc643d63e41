"""A report that the numerics suites print and also write to a file, so the
test command can show what each suite checked."""


class Report:
    def __init__(self, path):
        self.path = path
        self.lines = []

    def say(self, text=""):
        print(text)
        self.lines.append(text)

    def finish(self, status):
        """Writes the report (when a path was given) and returns `status`."""
        if self.path:
            with open(self.path, "w") as f:
                f.write("\n".join(self.lines) + "\n")
        return status
