"""``vsanimsplat run --workers N`` / ``--ray-address``: the chunks of a job made by Ray workers, on a local Ray started
for the job and on a two-node Ray cluster started on this machine for the module. Skipped without Ray (the
``cluster`` extra) except for the errors given without it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from vsanimsplat.cli import main
from vsanimsplat.ffmpeg import Encoding, segment_command
from vsanimsplat.job import Chunk, EncodeError, JobOptions, Progress, Workers
from vsanimsplat.job import graph as job_graph
from vsanimsplat.job.cluster import MAX_RETRIES
from vsanimsplat.models import ModelOptions
from tests.test_run import (CHUNKED, ROOT, _frames, _slow_ffmpeg, _stop_after, leftovers, one_encode,  # noqa: F401
                            probe, run, source)  # one_encode, source: fixtures

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a ``ray start --block`` (which stops the Ray processes it started), then whatever is left of its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> str:
    """A Ray cluster of two nodes of one CPU each on this machine (``ray start --head`` and ``ray start --address``,
    each in its own process group, stopped when the module is done, however it ends), with token authentication
    (``RAY_AUTH_MODE=token``) and a token made here, in the module's own folder (``RAY_AUTH_TOKEN_PATH``), so that
    the nodes and the drivers share it from the start whatever ``~/.ray`` holds; yields its address."""
    ray = pytest.importorskip("ray", reason="Ray, the optional [cluster] extra, is not installed "
                                            "(make test installs it; pip install '.[cluster]')")
    from ray._private.authentication_test_utils import reset_auth_token_state  # Ray's own, for tests like this one

    token = tmp_path_factory.mktemp("ray-auth") / "auth_token"
    token.write_text(secrets.token_hex(32))
    patch = pytest.MonkeyPatch()
    patch.setenv("RAY_AUTH_MODE", "token")  # `ray start` enables Ray's token authentication; the driver must use it
    patch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    patch.delenv("RAY_AUTH_TOKEN", raising=False)
    reset_auth_token_state()  # this process read the mode and the token when it imported Ray
    address = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]
    started = []
    try:
        started.append(subprocess.Popen([RAY, "start", "--head", f"--port={address.split(':')[1]}",
                                         f"--temp-dir={tmp_path_factory.mktemp('ray')}", "--include-dashboard=false",
                                         *common], env=env, process_group=0,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ray.init(address=address, logging_level="warning")  # waits for the head
        started.append(subprocess.Popen([RAY, "start", f"--address={address}", *common], env=env, process_group=0,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(120):
            if sum(node["Alive"] for node in ray.nodes()) == 2:
                break
            subprocess.run(["sleep", "0.5"])
        else:
            pytest.fail("the second Ray node did not join")
        ray.shutdown()
        yield address
    finally:
        ray.shutdown()
        for process in reversed(started):
            _stop(process)
        patch.undo()
        reset_auth_token_state()


@pytest.mark.slow
def test_a_job_killed_on_two_local_workers_is_finished_on_a_two_node_cluster(source, one_encode, cluster, tmp_path,
                                                                             capsys):
    """``--workers 2`` starts Ray here and makes the chunks two at a time, at the job's own niceness, recording each
    in the manifest as it is done: a kill (SIGTERM) after the first stops the job cleanly (exit 143, no output). The same command with
    ``--ray-address`` makes only the others on the cluster, and the frames (made on both), their times, the audio,
    subtitles and chapters are those of one encode. The local workers' ffmpeg reads at the native rate
    (:func:`_slow_ffmpeg`: Ray's workers inherit this environment), and once one chunk is recorded a later chunk's
    ffmpeg waits (:func:`_stop_after`), so the kill lands while chunks are made, however loaded the machine."""
    output = tmp_path / "two.mkv"
    manifest = tmp_path / "two.mkv.work" / "manifest.json"
    command = [source.path, "-o", output, *CHUNKED, "--chunk-seconds", "0.4"]
    env = {name: value for name, value in _slow_ffmpeg(tmp_path).items() if name != "RAY_AUTH_MODE"}  # Ray's default
    process = subprocess.Popen([sys.executable, "-m", "vsanimsplat", "run", *map(str, command), "--workers", "2"],
                               env=env, stderr=subprocess.PIPE, text=True, process_group=0)
    try:
        _stop_after(1, process, manifest, tmp_path)
    finally:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    (tmp_path / "gate").unlink()
    assert process.returncode == 143 and "interrupted by SIGTERM" in err, err
    assert "Token authentication is enabled" not in err  # Ray's tokens, without Ray's warning on every run
    made = len(json.loads(manifest.read_text())["done"])
    assert not output.exists() and 1 <= made < 5
    # the workers (and the ffmpeg each starts) run at the job's priority, not at Ray's default nice 15
    assert set((tmp_path / "niceness").read_text().split()) == {str(os.nice(0))}

    code, out, err = run(capsys, *command, "--ray-address", cluster)
    assert code == 0, err
    assert f"5 chunks of about 0.4 s in {output}.work: {made} done by an earlier run, {5 - made} to make" in err
    assert "encoding: 110/110 frames (100%)" in err
    assert _frames(output) == _frames(one_encode)
    assert probe(output) == probe(one_encode)
    assert "written:  " in out and not (tmp_path / "two.mkv.work").exists() and leftovers(tmp_path) == []


@pytest.mark.slow
def test_a_chunk_that_keeps_failing_fails_the_job_after_the_retries(cluster, tmp_path):
    """A chunk whose task fails every time (its input is gone) is tried MAX_RETRIES + 1 times, then the job stops
    with an error naming the chunk and the task's error."""
    workers = Workers(address=cluster)
    chunk = Chunk(0, (0, 10), tmp_path / "chunk-00000.nut")
    with pytest.raises(EncodeError, match=rf"chunk 0 \(output frames 0–9\) failed {MAX_RETRIES + 1} times on the Ray "
                                          r"workers: vsanimsplat\.errors\.BadOption: vsanimsplat\.open_video: input file not found: "
                                          r".*gone\.mkv"):
        list(workers.make(JobOptions(tmp_path / "gone.mkv", model="blend"), [chunk],
                          segment_command(Encoding(), Fraction(48)), Progress("x", enabled=False), 10))
    assert list(tmp_path.iterdir()) == []


def test_bad_worker_options_are_refused(source, tmp_path, capsys, monkeypatch):
    for value in ("0", "-1", "two", "1.5"):
        with pytest.raises(SystemExit) as exit_:
            main(["run", str(source.path), "-o", str(tmp_path / "out.mkv"), "--workers", value])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "--workers" in err and f"got {value!r}" in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    for option in (("--workers", "2"), ("--ray-address", "127.0.0.1:6379")):
        code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", *option)
        assert code == 3 and "Ray, which is not installed: pip install 'vsanimsplat[cluster]'" in err
    code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend", "--workers", "1",
                       "--keep-work")
    assert code == 2 and "--no-clean/--keep-work keeps the work folder of --chunk-seconds S; give both" in err
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def _not_ray() -> str:
    """A server on this machine that answers as HTTP/1.1 does, not as Ray's gRPC; yields its address."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            connection, _ = server.accept()
            with connection:
                connection.recv(64)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        thread.join(5)


@pytest.mark.slow
@pytest.mark.parametrize("address, says", [
    ("nonsense", "--ray-address must be HOST:PORT as `ray start --head` prints it (192.168.1.10:6379, [::1]:6379) or "
                 "ray://HOST:PORT, got 'nonsense'"),
    ("10.0.0.1:99999", "--ray-address must be HOST:PORT"),
    ("free", "cannot connect to 127.0.0.1:{port} (Connection refused); is the cluster's head (`ray start --head`) "
             "running there?"),
    ("not ray", "answers, but not as a Ray cluster does (no gRPC server); give the address `ray start --head` printed"),
])
def test_a_ray_address_without_a_cluster_is_refused_at_once(source, tmp_path, capsys, monkeypatch, address, says):
    """Before the analysis (dedupe is never reached), within seconds, leaving nothing: the form, a port where
    nothing listens (ray.init would retry it for minutes), a server that is not Ray."""
    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))  # installed or not: the address is refused first
    monkeypatch.setattr(job_graph, "dedupe", None)
    port = _free_port()
    with _not_ray() as other:
        given = {"free": f"127.0.0.1:{port}", "not ray": other}.get(address, address)
        began = time.monotonic()
        code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--model", "blend", "--ray-address", given)
    assert code == 2 and err.startswith("error: --ray-address ") and says.format(port=port) in err
    assert time.monotonic() - began < 10 and list(tmp_path.iterdir()) == []


def test_gpus_per_worker_takes_a_share_of_one_gpu_or_whole_gpus(source, tmp_path, capsys):
    for value in ("0", "-0.5", "1.5", "nan", "inf", "half"):
        with pytest.raises(SystemExit) as exit_:
            main(["run", str(source.path), "-o", str(tmp_path / "out.mkv"), "--workers", "2", "--gpus-per-worker", value])
        assert exit_.value.code == 2
        assert (f"argument --gpus-per-worker: expected a share of one GPU, 0 < X ≤ 1 (0.5: two workers on each GPU), "
                f"or a whole number of GPUs, got {value!r}") in capsys.readouterr().err
    for option in ((), ("--workers", "2", "--device", "cpu")):
        code, _, err = run(capsys, source.path, "-o", tmp_path / "out.mkv", "--gpus-per-worker", "0.5", *option)
        assert code == 2 and "--gpus-per-worker is the GPU share of each Ray worker: give --workers N" in err
    for value in (0.25, 0.5, 1, 2.0, 4):
        assert Workers(2, gpus=value).gpus == value
    for value in (0, 1.5, -1, float("nan")):
        with pytest.raises(ValueError, match=r"--gpus-per-worker must be a share of one GPU, 0 < X ≤ 1 .*, got "):
            Workers(2, gpus=value)
    assert list(tmp_path.iterdir()) == []


class FakeRay(types.ModuleType):
    """Enough of Ray for :meth:`Workers.make`: records what the tasks ask for, and finishes each at once."""

    class exceptions:  # noqa: N801 (Ray's name)
        RayError = RuntimeError

    def __init__(self) -> None:
        super().__init__("ray")
        self.asked: list[dict] = []
        self.calls: list[tuple] = []

    def init(self, **kwargs):
        pass

    def shutdown(self):
        pass

    def put(self, value):
        return value

    def remote(self, function):
        fake = self

        class Task:
            def options(self, **kwargs):
                fake.asked.append(kwargs)
                return self

            def remote(self, *args):
                fake.calls.append(args)
                return len(fake.calls)

        return Task()

    def wait(self, refs, num_returns):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return f"sha-{ref}"

    def cancel(self, ref, force):
        pass


@pytest.mark.parametrize(("gpus", "device", "asked"), [(0.5, "cuda", 0.5), (None, "cuda:1", 1), (None, "cpu", 0),
                                                      (2, None, 2)])
def test_each_chunks_task_asks_ray_for_the_workers_gpu_share(monkeypatch, tmp_path, gpus, device, asked):
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    chunks = [Chunk(i, (10 * i, 10 * i + 10), tmp_path / f"chunk-{i}.nut") for i in range(3)]
    options = JobOptions(tmp_path / "in.mkv", model="blend", model_options=ModelOptions(device=device))
    made = list(Workers(2, gpus=gpus).make(options, chunks, ["-c:v", "ffv1"], Progress("x", enabled=False), 30))
    assert made == [(0, "sha-1"), (1, "sha-2"), (2, "sha-3")]
    assert fake.asked == [{"num_cpus": max(1, torch.get_num_threads() // 2), "num_gpus": asked,
                           "max_retries": MAX_RETRIES, "retry_exceptions": True}]
    assert [call[2] for call in fake.calls] == chunks
