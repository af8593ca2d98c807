"""Middlebury .flo files: the byte layout, round trips and refusals."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vsanimsplat.flo import FLO_MAGIC, read_flo, write_flo


def test_layout_is_magic_width_height_then_interleaved_uv(tmp_path):
    flow = np.zeros((2, 3, 2), np.float32)
    flow[..., 0] = np.arange(6).reshape(2, 3)  # u
    flow[..., 1] = -np.arange(6).reshape(2, 3)  # v
    path = tmp_path / "f.flo"
    write_flo(path, flow)
    data = path.read_bytes()
    assert data[:4] == b"PIEH" and struct.unpack("<f", data[:4])[0] == FLO_MAGIC
    assert struct.unpack("<ii", data[4:12]) == (3, 2)
    values = struct.unpack("<12f", data[12:])
    assert values == (0, 0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(2)),
              elements=st.floats(-1e4, 1e4, width=32)))
def test_round_trip_is_exact(tmp_path_factory, flow):
    path = tmp_path_factory.mktemp("flo") / "f.flo"
    write_flo(path, flow)
    back = read_flo(path)
    assert back.dtype == np.float32 and back.shape == flow.shape
    np.testing.assert_array_equal(back, flow)


def test_float64_input_is_stored_as_float32(tmp_path):
    flow = np.full((4, 5, 2), 0.1, np.float64)
    write_flo(tmp_path / "f.flo", flow)
    assert (tmp_path / "f.flo").stat().st_size == 12 + 4 * 5 * 8
    np.testing.assert_array_equal(read_flo(tmp_path / "f.flo"), flow.astype(np.float32))


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3), (0, 5, 2), (1, 4, 5, 2)])
def test_write_refuses_other_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match="height, width, 2"):
        write_flo(tmp_path / "f.flo", np.zeros(shape))


def test_read_refuses_other_files(tmp_path):
    (tmp_path / "short").write_bytes(b"PIE")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    truncated = tmp_path / "truncated.flo"
    write_flo(truncated, np.ones((3, 3, 2)))
    truncated.write_bytes(truncated.read_bytes()[:-4])
    with pytest.raises(ValueError, match="shorter than the header"):
        read_flo(tmp_path / "short")
    with pytest.raises(ValueError, match="magic"):
        read_flo(tmp_path / "png")
    with pytest.raises(ValueError, match="3x3"):
        read_flo(truncated)
