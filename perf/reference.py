"""Published figures the design is compared with (not measured here)."""

CLOCK_HZ = 500e6

REFERENCE_CHIP = {
    "macs": 9216,  # 96x96 int8 MACs
    "clock_hz": 500e6,
    "cycles_per_frame": 3.846e6,  # 2048x1024
    "fps": 130,
    "mac_utilization": 0.85,
}
# the reference chip's network (its hardware-friendly FC-HarDNet: 59.7 G operations = 29.85 GMACs)
REFERENCE_NETWORK = {"layers": 69, "params": 3.8e6, "gops": 59.7}
FCHARDNET70_PUBLISHED = {"gmacs": 35.4, "fps_1080ti": 53}
REFERENCE_POC = {"fps_v100": 80}  # the reference's PyTorch proof of concept


def print_reference():
    r = REFERENCE_CHIP
    print(f"  reference chip: {r['macs']} MACs at {r['clock_hz'] / 1e6:.0f} MHz, {r['cycles_per_frame'] / 1e6:.3f}M "
          f"cycles per 2048x1024 frame, ~{r['fps']} fps, {r['mac_utilization']:.0%} MAC utilization")
    n = REFERENCE_NETWORK
    print(f"  its network: {n['layers']} layers, {n['params'] / 1e6:.1f}M parameters, {n['gops']} G operations "
          f"({n['gops'] / 2:.2f} GMACs) per frame")
    print(f"  FC-HarDNet-70 (published): {FCHARDNET70_PUBLISHED['gmacs']} GMACs, {FCHARDNET70_PUBLISHED['fps_1080ti']} fps "
          f"on a GTX 1080 Ti")
    print(f"  reference PyTorch proof of concept: {REFERENCE_POC['fps_v100']} fps on a V100")
