"""A stand-in for the `amdsmi` module (ROCm's AMD SMI Python bindings) with scripted GPUs.

It mirrors the real module where the sensor touches it: opaque processor handles, `AmdSmiLibraryException`
with an `err_code`, `amdsmi_get_energy_count` returning the accumulated ticks and the microjoules per
tick (field `energy_accumulator` since ROCm 6.1, `power` before it), socket power in watts, and
"N/A" strings where a board does not report a value.
"""

from __future__ import annotations

from dataclasses import dataclass

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_DRIVER_NOT_LOADED = 50


class AmdSmiLibraryException(Exception):
    def __init__(self, err_code: int) -> None:
        super().__init__(err_code)
        self.err_code = err_code


class _Handle:  # the real bindings hand back ctypes pointers: opaque to callers
    def __init__(self, gpu: "FakeAmdGpu") -> None:
        self.gpu = gpu


@dataclass
class FakeAmdGpu:
    market_name: str
    uuid: str
    power_w: float
    has_counter: bool = True
    resolution_uj: float = 15.259  # MI200/MI300 report 15.3 uJ per tick
    ticks: int = 0
    fail_after_reads: int | None = None
    reads: int = 0
    default_cap_uw: int = 550_000_000  # an MI250X's 550 W; AMD SMI speaks microwatts
    min_cap_uw: int = 100_000_000
    max_cap_uw: int = 550_000_000
    cap_uw: int = 550_000_000
    can_set_cap: bool = True


class FakeAmdSmi:
    """Build one, then `install(monkeypatch)` to make `import amdsmi` return it."""

    AmdSmiLibraryException = AmdSmiLibraryException

    def __init__(self, gpus: list[FakeAmdGpu], *, legacy_field: bool = False, init_error: int | None = None) -> None:
        self.gpus = gpus
        self.legacy_field = legacy_field  # ROCm < 6.1: the accumulator is called "power"
        self.init_error = init_error
        self.initialized = False
        self._handles = [_Handle(g) for g in gpus]

    def advance(self, seconds: float) -> None:
        for g in self.gpus:
            g.ticks += int(round(g.power_w * seconds * 1e6 / g.resolution_uj))

    def _check(self) -> None:
        if not self.initialized:
            raise AmdSmiLibraryException(AMDSMI_STATUS_DRIVER_NOT_LOADED)

    def amdsmi_init(self, *_flags: int) -> None:
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.initialized = True

    def amdsmi_shut_down(self) -> None:
        self.initialized = False

    def amdsmi_get_processor_handles(self) -> list[_Handle]:
        self._check()
        return list(self._handles)

    def amdsmi_get_gpu_device_uuid(self, h: _Handle) -> str:
        return h.gpu.uuid

    def amdsmi_get_gpu_asic_info(self, h: _Handle) -> dict[str, object]:
        return {"market_name": h.gpu.market_name, "vendor_id": "0x1002", "device_id": "0x74a1"}

    def amdsmi_get_gpu_board_info(self, h: _Handle) -> dict[str, object]:
        return {"product_name": "N/A"}

    def amdsmi_get_energy_count(self, h: _Handle) -> dict[str, object]:
        self._check()
        g = h.gpu
        if not g.has_counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        g.reads += 1
        if g.fail_after_reads is not None and g.reads > g.fail_after_reads:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        field = "power" if self.legacy_field else "energy_accumulator"
        return {field: g.ticks, "counter_resolution": g.resolution_uj, "timestamp": 0}

    def amdsmi_get_power_info(self, h: _Handle) -> dict[str, object]:
        self._check()
        return {"socket_power": h.gpu.power_w, "current_socket_power": h.gpu.power_w, "average_socket_power": "N/A"}

    def amdsmi_get_power_cap_info(self, h: _Handle) -> dict[str, object]:
        self._check()
        g = h.gpu
        return {"power_cap": g.cap_uw, "default_power_cap": g.default_cap_uw, "dpm_cap": 0,
                "min_power_cap": g.min_cap_uw, "max_power_cap": g.max_cap_uw}

    def amdsmi_set_power_cap(self, h: _Handle, sensor_ind: int, cap: int) -> None:
        self._check()
        if not h.gpu.can_set_cap:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NO_PERM)
        if not h.gpu.min_cap_uw <= cap <= h.gpu.max_cap_uw:
            raise AmdSmiLibraryException(1)  # invalid argument
        h.gpu.cap_uw = cap

    def install(self, monkeypatch) -> "FakeAmdSmi":  # type: ignore[no-untyped-def]
        import sys
        from types import ModuleType

        module = ModuleType("amdsmi")
        for name in dir(self):
            if name.startswith("amdsmi_") or name == "AmdSmiLibraryException":
                setattr(module, name, getattr(self, name))
        monkeypatch.setitem(sys.modules, "amdsmi", module)
        from mlfootprint.sensors import amdsmi as sensor

        monkeypatch.setattr(sensor._initialized, "modules", {})
        return self
