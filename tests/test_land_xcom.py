"""The land task passes the gate a compact landing result: whatever the number of files,
the XCom stays small, and the gate reads back exactly the batches that were landed."""

import json
import random

from lumbung.pipelines.batches import batches_of, for_xcom, released_ids


def _landed(n: int, seed: int = 7) -> dict:
    rnd = random.Random(seed)
    batches, next_id = [], 1
    for _ in range(n):
        next_id += rnd.choice([1, 1, 1, 2, 40])
        status = rnd.choice(["loaded"] * 8 + ["validated", "rejected", "failed"])
        reason = f"file {next_id} refused" if status == "rejected" else None
        batches.append({"batch_id": next_id, "status": status, "reason": reason,
                        "file_path": f"idm/{next_id}.xlsx", "rows_received": 12})
    batches.append({"batch_id": None, "status": "rejected", "reason": "unreadable"})
    return {"batches": batches, "problems": ["idm/x.txt: not an IDM file"]}


def test_round_trip_keeps_every_batch_and_reason():
    landed = _landed(5_000)
    back = batches_of(json.loads(json.dumps(for_xcom(landed))))
    expected = sorted(({k: b[k] for k in ("batch_id", "status", "reason")}
                       for b in landed["batches"] if b["batch_id"] is not None),
                      key=lambda b: b["batch_id"])
    assert back["batches"][:-1] == expected
    assert back["batches"][-1] == {"batch_id": None, "status": "rejected",
                                   "reason": "unreadable"}
    assert back["problems"] == landed["problems"]
    assert released_ids(for_xcom(landed)) == released_ids(landed)


def test_consecutive_batches_take_constant_space():
    landed = {"batches": [{"batch_id": i, "status": "loaded", "reason": None}
                          for i in range(1, 100_001)], "problems": []}
    compact = json.dumps(for_xcom(landed))
    assert len(compact) < 200, compact
    assert len(batches_of(json.loads(compact))["batches"]) == 100_000


def test_full_result_passes_through():
    landed = _landed(10)
    assert batches_of(landed) is landed
