"""A module of our own for testing the instrumentor base's patching machinery (no SDK involved)."""


class Toy:
    def greet(self, name: str) -> str:
        return f"hello {name}"

    def count(self, n: int) -> int:
        return n
