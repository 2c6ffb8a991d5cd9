"""What the compiler, the controller and the host exchange: the program header, the layer descriptor,
the counter record, the constant words, the engine's layer registers, the host's register map, the
status word and the error codes. The compiler packs and the host unpacks with these tables; the
RTL slices its words with ``Record.bits`` at elaboration (rtl/fields.py); compiler/README.md
describes the fields.
"""

from __future__ import annotations

from hwspec.fields import Record, pad

__all__ = ["MAGIC", "VERSION", "HEADER", "DESCRIPTOR", "SEGMENT", "MAX_SEGMENTS", "OPS", "FLAGS", "FUSION_FLAGS",
           "COUNTER_RECORD", "ACTIVITY", "ACTIVITY_BITS", "ACTIVITY_FIELD", "TOTALS", "DRAM_CONSTANT", "BANK_CONSTANT", "LAYER_REGS", "STATUS", "HOST_REGS", "CTRL",
           "ERRORS", "error_code", "flag_bit", "reg_indices"]

MAGIC = b"HDNA"
VERSION = 1

# the program header at the host's PROG_BASE: 64 bytes, of which the controller reads the first 20
HEADER = Record("program header", 64 * 8, [
    ("magic", 32, False, 1, 'b"HDNA" little endian'),
    ("version", 16),
    ("layers", 16, False, 1, "descriptors to run, from the table's first"),
    ("descriptor_size", 16, False, 1, "bytes from one descriptor to the next (DESCRIPTOR.size)"),
    pad(16),
    ("table", 32, False, 1, "DRAM address of the first descriptor"),
    ("image_size", 32, False, 1, "bytes of the program image (header, descriptors, weights, constants)"),
])

OPS = {"conv": 1, "avgpool": 2, "upsample": 3, "argmax": 4}

# bits of the descriptor's ``flags`` byte. A conv whose output feeds a 2x2 average pool also writes the
# pool's output (pool), one whose output an upsample reads also writes its part of the upsample's
# output (up); the pool's or upsample's own descriptor then only writes its counter record (fused).
# relu is informational: the clamp at the zero point is the ReLU.
FLAGS = {"relu": 1, "last": 2, "pool": 4, "fused": 8, "up": 16}
FUSION_FLAGS = FLAGS["pool"] | FLAGS["fused"] | FLAGS["up"]

MAX_SEGMENTS = 8  # input channel ranges a descriptor can gather (a HarDBlock concat has at most 6)
SEGMENT = Record("segment", 64, [("addr", 32), ("channels", 16), pad(16)])

# one layer: 128 bytes in the table, of which the controller reads the first used_bytes (126)
DESCRIPTOR = Record("descriptor", 128 * 8, [
    ("op", 8, False, 1, "OPS"),
    ("kernel", 8), ("stride", 8),
    ("flags", 8, False, 1, "FLAGS"),
    ("cin", 16), ("cout", 16), ("h", 16), ("w", 16), ("ho", 16), ("wo", 16),
    ("x_zp", 8, True), ("y_zp", 8, True), ("qmin", 8, True), ("qmax", 8, True),
    ("factor", 8, False, 1, "upsample: the scale; conv: output rows stacked on the array's rows"),
    ("n_segments", 8),
    ("layer", 16, False, 1, "the layer's index in the program: names its counter record"),
    ("group", 16, False, 1, "conv: output channels per weight load"),
    ("band", 16, False, 1, "conv: output rows per engine run"),
    ("weight_addr", 32), ("const_addr", 32), ("out_addr", 32),
    ("segments", SEGMENT.size_bits, False, MAX_SEGMENTS, "SEGMENT: the input's channel ranges, in order"),
    ("strip", 16, False, 1, "conv: output columns per engine run"),
    ("ho_v", 16, False, 1, "conv: output rows of the engine's layer, ceil(ho / factor)"),
    ("aux_addr", 32, False, 1, "conv with the pool or up flag: where the pooled or upsampled output goes"),
    ("pool_zp", 8, True, 1, "pool flag: the pool's output zero point"),
    ("up_factor", 8, False, 1, "up flag: the upsample's factor (2 or 4)"),
    ("in_pitch", 32, False, 1, "bytes from one input channel plane to the next (every segment's)"),
    ("out_pitch", 32, False, 1, "bytes from one output channel plane to the next"),
    ("aux_pitch", 32, False, 1, "pool or up flag: bytes from one pooled or upsampled output plane to the next"),
])


def flag_bit(name: str) -> int:
    """The descriptor bit that holds flag ``name`` (the RTL's ``desc[bit]``)."""
    return DESCRIPTOR.field("flags").lo + FLAGS[name].bit_length() - 1


# what the controller writes to CNT_BASE + size * layer after each layer (8 x u32)
COUNTER_RECORD = Record("counter record", 32 * 8, [
    ("cycles", 32, False, 1, "from the descriptor fetch to the record's write"),
    ("engine_cycles", 32, False, 1, "cycles the engine ran"),
    ("mac_steps", 32, False, 1, "reduction steps issued: rows x cols MAC slots each"),
    ("load_stall", 32), ("store_stall", 32), ("fetch", 32),
    ("bytes_read", 32), ("bytes_written", 32),
])
# what the controller tells the counters unit (rtl/counters.py) each busy cycle is charged to, by code
ACTIVITY = ("other", "engine", "fetch", "load", "store")
ACTIVITY_BITS = (len(ACTIVITY) - 1).bit_length()
# the record field each activity counts in ("other": cycles only)
ACTIVITY_FIELD = dict(engine="engine_cycles", fetch="fetch", load="load_stall", store="store_stall")
# the host's total registers (the run's sums), the record field each one sums
TOTALS = dict(t_cycles="cycles", t_engine="engine_cycles", t_steps="mac_steps", t_load="load_stall",
              t_store="store_stall", t_fetch="fetch")

# a conv's constants per output channel: in DRAM (8 bytes), and as the constant bank holds them
DRAM_CONSTANT = Record("constant (DRAM)", 64, [
    ("bias", 32, True, 1, "int32 bias with the input zero point folded in"),
    ("mantissa", 24, False, 1, "requantization multiplier mantissa"),
    ("exponent", 8, True, 1, "requantization shift"),
])
BANK_CONSTANT = Record("constant (bank word)", 66, [("exponent", 10, True), ("mantissa", 24), ("bias", 32, True)])

# the engine's layer registers, by index (rtl/sequencer.py describes each)
LAYER_REGS = ("cin", "h", "w", "cout", "ho", "wo", "k", "stride", "pad", "x_zp", "y_zp", "qmin", "qmax",
              "pad_top", "act_base", "out_base", "pad_left", "row_pitch", "chan_pitch", "k_rows", "row_stride",
              "chain")



def reg_indices(*names: str) -> tuple[int, ...]:
    """The indices of layer registers ``names`` (the RTL compares its register address with them)."""
    return tuple(LAYER_REGS.index(n) for n in names)


# the host's AXI4-Lite registers, byte offsets: four read-write, then the read-only ones in order
HOST_REGS = dict(CTRL=0x00, PROG_BASE=0x04, CNT_BASE=0x08, IRQ_ACK=0x0C, STATUS=0x10, CYCLES=0x14, ENGINE=0x18,
                 STEPS=0x1C, LOAD=0x20, STORE=0x24, FETCH=0x28, BYTES_RD=0x2C, BYTES_WR=0x30, HWCONFIG=0x34)
CTRL = Record("CTRL", 32, [("start", 1), ("irq_en", 1)])
STATUS = Record("STATUS", 32, [("busy", 1), ("done", 1), ("err", 1), pad(5), ("error", 8), ("layer", 16)])

# error codes (STATUS.error): one a refused limit, so the host can tell which it broke
_ERRORS = (
    (1, "header", "bad program header (magic or descriptor size)"),
    (2, "op", "unknown op"),
    (3, "conv_shape", "conv kernel not 1 or 3, stride not 1 or 2, or a stacking factor of 0"),
    (4, "conv_tile", "conv group, band or strip of 0"),
    (5, "segments", "segment count not in 1..8"),
    (6, "dram_read", "DRAM read error"),
    (7, "dram_write", "DRAM write error"),
    (8, "weight_bank", "one output channel's weights exceed a weight bank"),
    (9, "stacked", "stacked conv: more output channels than array rows, or a group other than all of them"),
    (10, "fused_pool", "fused pool: needs unstacked whole rows of whole words, even bands, rows in the line buffer"),
    (11, "fused_up", "fused upsample: needs whole rows that upsample to whole words, and no fused pool"),
    (12, "pool_row", "avgpool: two input rows exceed half the line buffer"),
    (13, "up_row", "upsample: an input row exceeds half the line buffer"),
    (14, "scale", "upsample or argmax factor not 2, 4, 8 or 16 (argmax also 1)"),
    (15, "argmax", "argmax: needs one segment, 2 or more channels, a strip of whole words, every channel's "
                   "strip in half the line buffer"),
    (16, "group_banks", "conv group: its weights or constants exceed their banks"),
    (17, "band_buffers", "conv band: its input rows exceed half the activation buffer, or its outputs half the "
                         "output banks"),
    (18, "plane", "an input plane pitch or an output plane (ho x wo) past a DMA command's pitch and length"),
)
ERRORS = {code: text for code, _, text in _ERRORS}
_CODES = {key: code for code, key, _ in _ERRORS}
assert len(_CODES) == len(ERRORS) == len(_ERRORS) and max(ERRORS) < 1 << STATUS.field("error").bits


def error_code(key: str) -> int:
    """The code of error ``key`` (e.g. "fused_pool")."""
    return _CODES[key]
