"""The exceptions of vsanimsplat: one root, :class:`AnimSplatError`, and a few kinds under it.

Every error the package raises on purpose is an :class:`AnimSplatError`. The root is a ``vs.Error``, so an error
reaches a VapourSynth script the same way whichever function raised it: ``except vs.Error`` catches it as it catches
any filter's, ``except vsanimsplat.errors.WeightsError`` (say) catches one kind. The command line turns each kind
into its exit code in one place (``vsanimsplat.cli``).

| class | bases besides the root | raised when | ``run``'s exit code |
|---|---|---|---|
| :class:`AnimSplatError` | ``vs.Error`` | (the root) | 1 |
| :class:`BadOption` | ValueError | an option's value cannot be used (a file that cannot be read among them); names the function and the parameter | 2 |
| :class:`NotInstalled` | | something to install is missing (the message says how): weights, ffmpeg, matplotlib or Pillow, Ray | 3 |
| :class:`WeightsError` | :class:`NotInstalled` | a weight file is missing or does not match its sha256 | 3 |
| :class:`DeviceError` | RuntimeError | the device asked for cannot run the model (CUDA absent, out of memory) | 2 (out of memory: 1) |
| :class:`EncodeError` | RuntimeError | ffmpeg failed, or a frame could not be made, while encoding | 1 |

:class:`Interrupted` (a stop signal) is not under the root, on purpose: it is a KeyboardInterrupt, so that no
``except Exception`` (in torch, Ray, VapourSynth or here) swallows a stop; its exit code is 128 + the signal's number.
The kinds of one module derive from these: ``DeviceOutOfMemory`` (:mod:`~vsanimsplat.engine`), ``FFmpegNotFound``
(:mod:`~vsanimsplat.ffmpeg`), ``PlotExtraMissing`` (:mod:`~vsanimsplat.plots`), ``RayMissing``, ``OutputBusy``,
``ClusterUnreachable`` and ``RunRefused`` (:mod:`~vsanimsplat.job`).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import vapoursynth as vs

__all__ = ["AnimSplatError", "BadOption", "DeviceError", "EncodeError", "Interrupted", "NotInstalled", "WeightsError",
           "given_to"]


class AnimSplatError(vs.Error):
    """The root of vsanimsplat's exceptions; a ``vs.Error``, whose ``str`` is the message."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class BadOption(AnimSplatError, ValueError):
    """An option's value cannot be used: ``vsanimsplat.FUNCTION: REASON``, the reason naming the parameter and
    the values it takes. ``FUNCTION`` is named as a user finds it: ``interpolate``, ``open_video``, ``run``,
    ``timeline.group_drawings``, ``ops.softsplat``.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `function` | str | | the function of the public API that was given the option (``"interpolate"``, ``"load_model"``, ``"run"``) |
    | `parameter` | str | | its parameter (``"flow_scale"``) |
    | `reason` | str | | what is wrong and what it takes (``"flow_scale must be one of (1.0, 0.5, 0.25), got 2.0"``) |
    """

    def __init__(self, function: str, parameter: str, reason: str) -> None:
        super().__init__(f"vsanimsplat.{function}: {reason}")
        self.function, self.parameter, self.reason = function, parameter, reason

    def naming(self, function: str) -> BadOption:
        """The same error as given to ``function`` (the function the user called, which passed the option on)."""
        return self if function == self.function else type(self)(function, self.parameter, self.reason)


class NotInstalled(AnimSplatError):
    """Something to install is missing; the message names the command that installs it."""


class WeightsError(NotInstalled):
    """A weight file is missing or does not match its sha256; the message says how to fix it."""


class DeviceError(AnimSplatError, RuntimeError):
    """The device asked for cannot run the model: CUDA is not available, or it ran out of memory."""


class EncodeError(AnimSplatError, RuntimeError):
    """ffmpeg failed, or a frame could not be made, while encoding; the message holds ffmpeg's stderr."""


class Interrupted(KeyboardInterrupt):
    """The job was stopped by a signal (``signum``, SIGTERM, SIGHUP or SIGBREAK); its exit code is 128 + signum.

    A KeyboardInterrupt like Ctrl-C's, not an :class:`AnimSplatError`: see the module docstring."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def given_to(function: str) -> Iterator[None]:
    """A :class:`BadOption` raised in the block names ``function``: the public function that was given the option
    and passed it on (``interpolate`` to ``load_preset`` to ``load_model``), so the message names what the user
    called."""
    try:
        yield
    except BadOption as error:
        raise error.naming(function) from None
