"""A bounded memo that keeps what is in use (standards.judge memoizes
judgements in one per policy: Policy.memo)."""


class Memo:
    """Values by key, at most `limit` of them, in two generations: when the
    newer one holds half it becomes the older one, and the older one is
    dropped; a value found in the older one moves to the newer. What is in
    use stays, where clearing the whole memo when full made every next
    look-up a miss."""

    __slots__ = ("newer", "older")

    def __init__(self) -> None:
        self.newer: dict = {}
        self.older: dict = {}

    def get(self, key: tuple, make, limit: int):
        value = self.newer.get(key)
        if value is None:
            value = self.older.pop(key, None)
            if value is None:
                value = make()
            if len(self.newer) >= limit // 2:
                self.older, self.newer = self.newer, {}
            self.newer[key] = value
        return value

    def __len__(self) -> int:
        return len(self.newer) + len(self.older)
