import threading
import time

from iadbench.core.gpus import gpu_slot


def test_slots_are_distinct_and_released(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with gpu_slot(tmp_path, 2) as first, gpu_slot(tmp_path, 2) as second:
        assert {first, second} == {"0", "1"}
    with gpu_slot(tmp_path, 2) as again:
        assert again == "0"


def test_third_job_waits_for_a_free_slot(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    got = []
    with gpu_slot(tmp_path, 1) as held:
        waiter = threading.Thread(target=lambda: got.append(gpu_slot(tmp_path, 1, 0.05).__enter__()))
        waiter.start()
        time.sleep(0.3)
        assert held == "0" and got == []
    waiter.join(timeout=5)
    assert got == ["0"]


def test_scheduler_assignment_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with gpu_slot(tmp_path, 2) as device:
        assert device == "3"
    with gpu_slot(tmp_path, 0) as device:
        assert device == "3"
