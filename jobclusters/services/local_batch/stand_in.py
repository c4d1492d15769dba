"""Stand-ins for existing pools on the embedded default.

A definition that names existing compute (a Batch pool id, an ADF Azure Batch linked service) cannot find
it on this machine; the local Batch service creates a small pool of that id on first use instead and
marks it, so the run and its task rows say "stand-in". Nobody owns it: no run deletes it, as no run would
delete the real one. On Azure the pool must exist, as always.
"""

from __future__ import annotations

from jobclusters.services.batch import NameValue, PoolSpec

STAND_IN_METADATA_KEY = "jobclusters-stand-in"
STAND_IN_VM_SIZE = "standard_d2s_v3"
STAND_IN_SLOTS_PER_NODE = 4


def stand_in_pool(pool_id: str) -> PoolSpec:
    return PoolSpec(
        id=pool_id,
        vm_size=STAND_IN_VM_SIZE,
        target_dedicated_nodes=1,
        task_slots_per_node=STAND_IN_SLOTS_PER_NODE,
        metadata=[NameValue(name=STAND_IN_METADATA_KEY, value="true")],
    )


def is_stand_in(spec: PoolSpec) -> bool:
    return any(m.name == STAND_IN_METADATA_KEY for m in spec.metadata)
