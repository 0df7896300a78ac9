"""The spec extract routes every GET it lists to that operation."""

from __future__ import annotations

import re

from klaviyo_sim import KlaviyoSimulator


def test_every_get_in_the_extract_routes_to_its_operation(sim: KlaviyoSimulator) -> None:
    for op in sim.spec.operations.values():
        path = re.sub(r"\{[^}]+\}", "abc123", op.path)
        matches = [m for m, _ in sim.spec.match(path) if m.method == op.method]
        assert [m.operation_id for m in matches] == [op.operation_id], path
