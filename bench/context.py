"""The state sections share: the emulator, the issued clients and the records the authorizer fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.common import BenchConfig, SectionResult

if TYPE_CHECKING:
    from tokengate.emulator import SecretsManagerEmulator
    from tokengate_core.records.model import ClientRecord


@dataclass(frozen=True)
class Client:
    key_id: str
    token: str

    @property
    def header(self) -> str:
        return f"Bearer {self.token}"

    def __repr__(self) -> str:  # never show the token
        return f"Client({self.key_id!r})"


@dataclass
class Bench:
    cfg: BenchConfig
    emulator: SecretsManagerEmulator
    clients: list[Client] = field(default_factory=list)
    records: dict[str, ClientRecord] = field(default_factory=dict)
    results: dict[str, SectionResult] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def result(self, key: str, title: str) -> SectionResult:
        if key not in self.results:
            self.results[key] = SectionResult(key, title)
        return self.results[key]
