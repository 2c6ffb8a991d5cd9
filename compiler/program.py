"""ONNX int8 QDQ model -> accelerator program: layer descriptors and a DRAM image.

DRAM image layout (addresses in bytes, every region 64-byte aligned):

    0x0000_0000  program header (64 bytes) then one 128-byte descriptor per layer
    weights      per conv, int8 [Cout][weight_pitch(Cin*k*k)]: each output channel's Cin*k*k weights
                 contiguous, in the order the engine's reduction walks them (ci, dy, dx), zero-padded
                 to whole buffer words (hwspec.config.weight_pitch: the controller loads them a beat
                 per cycle into word-wide weight banks)
    constants    per conv, 8 bytes per output channel: int32 bias with the input zero point folded in
                 (bias - x_zp * sum(w), see ``folded_bias``), 24-bit requantization mantissa (LE),
                 int8 exponent (golden.contract.requant_constants)
    activations  the memory plan (compiler.memplan): channel-planar int8 tensors

The header, the descriptor and the constant word are tables in hwspec.formats (compiler/README.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from golden.contract import is_pow2, requant_constants, requant_multiplier
from golden.qgraph import ModelError, QConv, QGraph
from hwspec import tiling
from hwspec.checks import PLANE_MAX, SCALES, refusal
from hwspec.config import ACT_WORD, LINE_DEPTH, weight_pitch
from hwspec.formats import (DESCRIPTOR, DRAM_CONSTANT, ERRORS, FLAGS, HEADER, MAGIC, MAX_SEGMENTS, OPS, SEGMENT, VERSION,
                            error_code)
from compiler.memplan import TENSOR_ALIGN, MemoryPlan, Segment, align, concat_leaves, plan_memory

__all__ = ["Descriptor", "Program", "compile_graph"]


def line_half(hw) -> int:
    """Bytes in each half of the controller's line buffer for config ``hw`` (None: the default's)."""
    return (hw.line_depth if hw is not None else LINE_DEPTH) // 2


# The descriptor's fields are wide enough for FC-HarDNet at 2048x1024 with room to spare; the compiler
# refuses beyond.
LIMITS = {what: DESCRIPTOR.field(f).range[1]
          for what, f in (("channels", "cin"), ("height", "h"), ("width", "w"), ("address", "out_addr"))}


@dataclass
class Descriptor:
    layer: int
    name: str
    op: str
    kernel: int = 1
    stride: int = 1
    flags: int = 0
    cin: int = 0
    cout: int = 0
    h: int = 0
    w: int = 0
    ho: int = 0
    wo: int = 0
    x_zp: int = 0
    y_zp: int = 0
    qmin: int = -128
    qmax: int = 127
    factor: int = 1  # upsample: the scale; conv: output rows stacked on the array's rows (stack_rows)
    group: int = 0  # conv: output channels per weight load (what the banks hold)
    band: int = 0  # conv: output rows per engine run (what the activation/output buffers hold)
    strip: int = 0  # conv: output columns per engine run (the full width unless a row is too wide)
    ho_v: int = 0  # conv: output rows of the engine's layer, ceil(ho / factor) (stacked rows)
    aux_addr: int = 0  # conv with FLAGS["pool"] or FLAGS["up"]: where its pooled or upsampled output goes
    pool_zp: int = 0  # FLAGS["pool"]: the pool's output zero point
    up_factor: int = 0  # FLAGS["up"]: the upsample's factor (2 or 4)
    weight_addr: int = 0
    const_addr: int = 0
    out_addr: int = 0
    segments: list[Segment] = field(default_factory=list)
    in_pitch: int = 0  # bytes from an input channel plane to the next (MemoryPlan.pitch)
    out_pitch: int = 0
    aux_pitch: int = 0  # FLAGS["pool"] or FLAGS["up"]: of the pooled or upsampled output

    # descriptor fields that are not attributes of the same name
    _COMPUTED = ("op", "n_segments", "segments")

    def pack(self) -> bytes:
        values = {f: getattr(self, f) for f in DESCRIPTOR.names if f not in self._COMPUTED}
        return DESCRIPTOR.pack(op=OPS[self.op], n_segments=len(self.segments),
                               segments=[SEGMENT.pack_int(addr=s.addr, channels=s.channels) for s in self.segments],
                               **values)

    @classmethod
    def unpack(cls, raw: bytes, name: str = "") -> "Descriptor":
        v = DESCRIPTOR.unpack(raw)
        op = {code: op for op, code in OPS.items()}[v.pop("op")]
        segs = [SEGMENT.unpack_int(s) for s in v.pop("segments")[: v.pop("n_segments")]]
        return cls(name=name, op=op, segments=[Segment("", s["addr"], s["channels"]) for s in segs], **v)

    # A conv with stacked rows (factor G > 1) is computed as the engine's layer of G * Cout channels
    # (channel c * G + g: output row G * r + g of channel c at its row r), a kernel of k_rows rows
    # and rows row_stride apart; columns keep kernel and stride.
    @property
    def stack(self) -> int:
        return self.factor if self.op == "conv" else 1

    @property
    def k_rows(self) -> int:
        return self.kernel + (self.stack - 1) * self.stride

    @property
    def row_stride(self) -> int:
        return self.stack * self.stride


@dataclass
class Program:
    graph: QGraph
    descriptors: list[Descriptor]
    plan: MemoryPlan
    image: bytearray  # header, descriptors, weights and constants (activations are written at run time)
    weight_bytes: int
    const_bytes: int
    # layers the host runs after the accelerator (an ArgMax the controller cannot take) -> why
    host_reasons: dict[str, str] = field(default_factory=dict)
    # layers whose output a whole-network run never writes (their descriptor writes only its counter
    # record): the logits upsample, when the argmax reads its input and upsamples the labels instead
    elided: set[str] = field(default_factory=set)

    @property
    def host_layers(self) -> list[str]:
        return list(self.host_reasons)

    @property
    def activation_base(self) -> int:
        return self.plan.base

    @property
    def dram_size(self) -> int:
        return self.plan.base + self.plan.peak

    def input_segments(self) -> list[Segment]:
        return self.plan.segments[self.graph.input.name]

    def tensor_addr(self, name: str) -> int:
        return self.plan.addr[self.output_name(name)]

    def tensor_pitch(self, name: str) -> int:
        """Bytes from one channel plane of the tensor ``name`` writes (or of the input) to the next."""
        return self.plan.pitch[self.output_name(name)]

    def output_name(self, layer: str) -> str:
        """The tensor a layer writes: its own name, but for the argmax's labels."""
        return self.graph.layer(layer).output if layer in self._argmax_names else layer

    def output_shape(self, layer: str) -> tuple:
        name = self.output_name(layer)
        return tuple(self.graph.tensors[name].shape) if name in self.graph.tensors else \
            tuple(self.graph.layer(layer).out_shape)

    @property
    def _argmax_names(self) -> set[str]:
        return {l.name for l in self.graph.layers if l.op == "argmax"}


def packed_weights(w: np.ndarray) -> bytes:
    """int8 [Cout, Cin, k, k] as the DRAM image holds them: [Cout][weight_pitch(Cin*k*k)]."""
    flat = w.astype(np.int8).reshape(w.shape[0], -1)
    out = np.zeros((flat.shape[0], weight_pitch(flat.shape[1])), np.int8)
    out[:, :flat.shape[1]] = flat
    return out.tobytes()


def folded_bias(conv: QConv) -> np.ndarray:
    """bias - x_zp * sum(w) modulo 2**32: the PEs multiply raw int8 activations, and the input zero
    point (also what the feeders put in the padding) is accounted for once, here. Wrapping is exact:
    the true accumulator fits int32, so the sum of wrapped terms wraps back to it."""
    wsum = conv.weight.reshape(conv.weight.shape[0], -1).astype(np.int64).sum(axis=1)
    b = (conv.bias.astype(np.int64) - int(conv.x_zp) * wsum) % 2**32
    return np.where(b >= 2**31, b - 2**32, b)


def stack_rows(d: "Descriptor", hw) -> int:
    """How many output rows of conv ``d`` (unstacked) the array computes at once on its rows (G):
    a conv with at most half as many output channels as the array has rows can put G <= rows //
    Cout output rows there, as one conv of G * Cout channels whose kernel has k + (G - 1) * stride
    rows (channel c * G + g holds channel c's kernel shifted down by g * stride rows, zeros
    elsewhere): (k + (G - 1) * stride) / k the reduction steps for G times the rows, but rows stored
    one command each and a taller input halo. A 1x1 conv whose reduction is shorter than the
    array's minimum tile (``min_tile_steps``) gets its G rows almost free. The G whose best tiling
    ``_tile_cost`` finds fastest; 1 without a config."""
    if hw is None or 2 * d.cout > hw.rows:
        return 1
    best, best_cost = 1, _best_tiling(d, hw)[0]
    for g in range(2, min(hw.rows // d.cout, d.ho) + 1):
        v = dataclasses.replace(d, factor=g, cout=d.cout * g, ho_v=-(-d.ho // g))
        if weight_pitch(v.cin * v.k_rows * v.kernel) > hw.wgt_depth:
            break
        try:
            cost = _best_tiling(v, hw)[0]
        except ModelError:
            break
        if cost < best_cost:
            best, best_cost = g, cost
    return best


def stacked_weights(w: np.ndarray, g: int, stride: int) -> np.ndarray:
    """int8 [Cout, Cin, k, k] -> [Cout * g, Cin, k + (g - 1) * stride, k] (stack_rows)."""
    cout, cin, k, _ = w.shape
    out = np.zeros((cout * g, cin, k + (g - 1) * stride, k), w.dtype)
    for c in range(cout):
        for r in range(g):
            out[c * g + r, :, r * stride:r * stride + k, :] = w[c]
    return out


def pack_constants(conv: QConv) -> bytes:
    """8 bytes per output channel: folded bias int32 (``folded_bias``), mantissa u24, exponent int8."""
    consts = requant_constants(requant_multiplier(conv.x_scale, conv.w_scale, conv.y_scale))
    lo, hi = DRAM_CONSTANT.field("exponent").range
    if np.any(consts.exponent < lo) or np.any(consts.exponent > hi):
        raise ModelError(f"node {conv.name!r} (Conv): requantization exponent {consts.exponent.min()}.."
                         f"{consts.exponent.max()} does not fit the constant's exponent ({lo}..{hi})")
    return b"".join(DRAM_CONSTANT.pack(bias=int(b), mantissa=int(m), exponent=int(e))
                    for b, m, e in zip(folded_bias(conv), consts.mantissa, consts.exponent))


def _check_stack(conv, name: str, g, hw):
    if conv is None:
        raise ModelError(f"stack: no conv named {name!r} in the graph")
    cout = conv.weight.shape[0]
    if hw is None or not isinstance(g, int) or g < 1 or g * cout > hw.rows:
        raise ModelError(f"node {name!r} (conv): cannot stack {g!r} output rows of {cout} channels"
                         + (f" on the {hw.rows} rows of config {hw.name!r}" if hw is not None else " without a config"))


def _check(layer, **values):
    for what, (value, limit) in values.items():
        if value > LIMITS[limit]:
            raise ModelError(f"node {layer.name!r} ({layer.op}): {what} {value} exceeds the descriptor's limit "
                             f"{LIMITS[limit]}")





UPSAMPLE_FACTORS = SCALES  # nearest upsampling the controller does (rtl/controller.py, V_DATA)


def tile_conv(d: Descriptor, hw, pool: bool = False, whole: bool = False) -> tuple[int, int, int]:
    """(group, band, strip) for conv ``d`` on hardware ``hw``: ``_best_tiling``."""
    return _best_tiling(d, hw, pool, whole)[1:]


def pool_fusable(d: Descriptor, hw) -> bool:
    """Whether conv ``d`` (unstacked) can also write the 2x2 average pool of its output (FLAGS["pool"]):
    its rows are whole buffer words (the controller pools the store's words as they stream) and
    even in number, and the line buffer, idle during a conv, holds a band's even rows' last row
    (its upper half) and the band's pooled bytes (its lower half); ``_best_tiling(..., pool=True)``
    then keeps whole rows and even bands."""
    return (d.stack == 1 and d.wo % ACT_WORD == 0 and d.ho % 2 == 0 and d.wo % 2 == 0
            and d.wo <= line_half(hw))


def up_fusable(d: Descriptor, factor: int) -> bool:
    """Whether conv ``d`` can also write its output upsampled (FLAGS["up"]): each of the store's chunks
    is ACT_WORD / factor source bytes repeated, so its rows must be whole such pieces."""
    return factor in (2, 4) and d.wo % (ACT_WORD // factor) == 0


def _best_tiling(d: Descriptor, hw, pool: bool = False, whole: bool = False) -> tuple[float, int, int, int]:
    """(rough cost, group, band, strip) for a conv on hardware ``hw`` (an hwspec.config.EngineConfig):
    the most output channels whose
    weights and constants fit the row banks; then, of the tiles of ``band`` output rows by the widest
    ``strip`` of output columns that fit, the one ``_tile_cost`` finds fastest. A tile's input rows
    and columns (halo included, laid out by ``act_pitches``) must fit half the activation buffer and
    its outputs half the output banks: the controller double-buffers, loading the next tile into one
    half while the engine runs from the other. ``pool``: the conv's store also pools (FLAGS["pool"]):
    whole rows, bands of an even number of rows whose pooled bytes fit half the line buffer.
    ``whole``: whole rows (the store also upsamples, FLAGS["up"])."""
    K = d.cin * d.k_rows * d.kernel
    Kp = weight_pitch(K)
    if Kp > hw.wgt_depth:
        raise ModelError(f"node {d.name!r} (conv): Cin*k*k = {K} weights per output channel ({Kp} bytes in whole "
                         f"words) exceed the weight bank depth {hw.wgt_depth} of config {hw.name!r}")
    tiles = min(-(-d.cout // hw.rows), hw.wgt_depth // Kp, hw.const_depth)
    group = min(d.cout, tiles * hw.rows)
    tiles = -(-group // hw.rows)
    act, out = hw.act_half, hw.out_half

    def fits(rows_out, cols_out):
        rows_in = tiling.extent(rows_out, d.row_stride, d.k_rows, d.h)
        cols_in = tiling.extent(cols_out, d.stride, d.kernel, d.w)
        return d.cin * tiling.act_pitches(rows_in, cols_in, d.w)[1] <= act and tiles * rows_out * cols_out <= out

    candidates, strip = [], d.wo  # taller bands fit narrower strips: one pass down the widths
    if pool:
        pooled = line_half(hw)
        candidates = [(b, d.wo) for b in range(2, d.ho_v + 1, 2) if b * d.wo // 4 <= pooled and fits(b, d.wo)]
        if not candidates:
            raise ModelError(f"node {d.name!r} (conv): no band of whole, even rows fits to pool its output")
    if whole:
        candidates = [(b, d.wo) for b in range(1, d.ho_v + 1) if fits(b, d.wo)]
        if not candidates:
            raise ModelError(f"node {d.name!r} (conv): no band of whole rows fits to upsample its output")
    for band in range(1, d.ho_v + 1) if not (pool or whole) else ():
        while strip and not fits(band, strip):
            strip -= 1
        if not strip:
            break
        candidates.append((band, strip))
    if not candidates:
        one = d.cin * tiling.act_pitches(min(d.h, d.k_rows), min(d.w, d.kernel), d.w)[1]
        raise ModelError(f"node {d.name!r} (conv): even one output pixel needs {one} bytes of input (its rows padded "
                         f"to {ACT_WORD}-byte words; half activation buffer {act}) in config {hw.name!r}")
    cost, neg_band, strip = min((_tile_cost(d, hw, group, tiles, *c), -c[0], c[1]) for c in candidates)
    return cost, group, -neg_band, strip


def _tile_cost(d: Descriptor, hw, group: int, tiles: int, band: int, strip: int) -> float:
    """A rough cycle count of a conv layer tiled as ``band`` rows by ``strip`` columns, to rank
    tilings (compiler.estimate has the exact one): per tile, the engine run, its drain included,
    the load of the next tile and the store of the last run side by side, the longest counts; a DMA command
    costs about 8 cycles plus a cycle per beat, and each row of a strip's 2-D command about 4 more.
    (Without the drain, the ~300 cycles a tile ends with on asic, short bands looked cheaper than
    they are: FC-HarDNet-70's frame took 0.6% more cycles and 3% more DRAM bytes. Runs are now
    chained, only a group's last drains alone, but charging every tile the full tail still ranks
    better: with the chained tail the asic frame took 0.4% fewer cycles for 6% more DRAM bytes.)"""
    from hwspec.config import run_tail

    k, s = d.kernel, d.stride
    rows_in = tiling.extent(band, d.row_stride, d.k_rows, d.h)
    cols_in = tiling.extent(strip, s, k, d.w)
    steps = max(d.cin * d.k_rows * k, hw.min_tile_steps)
    engine = tiles * band * -(-strip // hw.cols) * steps + run_tail(hw)
    if cols_in == d.w:
        load = d.cin * (8 + -(-rows_in * d.w // ACT_WORD))
    else:
        load = d.cin * (8 + rows_in * (4 + -(-cols_in // ACT_WORD)))
    if strip == d.wo and d.stack == 1:
        store = group * (12 + -(-band * d.wo // ACT_WORD))
    else:  # a command a row (a strip's, or a stacked conv's rows, factor rows apart in DRAM)
        store = group * band * (12 + -(-strip // ACT_WORD))
    if d.flags & FLAGS["up"]:  # every store command again, upsampled: factor**2 times the bytes
        store *= 1 + d.up_factor ** 2
    n_tiles = -(-d.ho_v // band) * -(-d.wo // strip)
    return n_tiles * (max(engine, load, store) + 30) + load + store  # the first load, the last store: alone


def _conv_shape(graph: QGraph, c: QConv, g: int = 1) -> Descriptor:
    """Conv ``c`` as a descriptor of its shapes only (no addresses, no tiling), G output rows stacked:
    what stack_rows, pool_fusable, up_fusable and tile_conv weigh before the memory plan exists."""
    t_in, t_out = graph.tensors[c.input], graph.tensors[c.output]
    return Descriptor(layer=0, name=c.name, op="conv", kernel=c.kernel, stride=c.stride, cin=c.weight.shape[1],
                      cout=c.weight.shape[0] * g, h=t_in.shape[2], w=t_in.shape[3], ho=t_out.shape[2],
                      wo=t_out.shape[3], ho_v=-(-t_out.shape[2] // g), factor=g)


def compile_graph(graph: QGraph, hw=None, keep_all: bool = True, stack: dict[str, int] | None = None,
                  fuse_pool: bool = True, fuse_up: bool = True, fuse_argmax: bool = True) -> Program:
    """Compile a parsed int8 graph for hardware configuration ``hw`` (hwspec.config.EngineConfig; None:
    no buffer limits, whole layers). ``keep_all`` keeps every intermediate tensor in DRAM (for
    layer-by-layer comparison); False reuses dead buffers (the deployment plan). ``stack`` pins the
    stacked output rows G of the named convs in place of ``stack_rows``'s choice (tests reach
    stackings the cost would not pick). ``fuse_pool``: a conv whose output feeds a 2x2 average pool
    writes the pool's output too, where ``pool_fusable`` and a pooling tiling allow (with ``hw``
    only); the pool's descriptor is kept, flagged FLAGS["fused"], for its counter record. ``fuse_up``
    likewise: the convs whose outputs an upsample by 2 or 4 reads (through a concat) also write
    their part of its output, upsampled, where ``up_fusable`` and a tiling of whole rows allow.
    ``fuse_argmax``: a final ArgMax whose input is a nearest upsample of a tensor read by nothing
    else reads that upsample's input and upsamples its labels (argmax and nearest upsampling commute
    exactly); the upsample is then elided (``Program.elided``: FLAGS["fused"], its output never written).
    An ArgMax the controller cannot take (``argmax_unfit``) runs on the host (``Program.host_layers``)."""
    for l in graph.layers:
        if l.op not in OPS and l.op != "concat":
            raise ModelError(f"node {l.name!r}: op {l.op} has no accelerator implementation")
        if l.op == "argmax" and l is not graph.layers[-1]:
            raise ModelError(f"node {l.name!r} (ArgMax): only a final ArgMax is supported (it runs last)")
    argmax_src = {}  # argmax name -> (the tensor it reads, the factor it upsamples its labels by)
    elided, host = set(), {}
    for l in graph.layers:
        if l.op != "argmax":
            continue
        up = next((u for u in graph.layers if u.output == l.input and u.op == "upsample"), None)
        readers = [r for r in graph.layers if l.input in r.inputs]
        if (fuse_argmax and up is not None and len(readers) == 1
                and argmax_unfit(graph, up.input, up.factor, hw) is None):
            argmax_src[l.name] = (concat_leaves(graph, up.input)[0], up.factor)
            elided.add(up.name)
        elif (why := argmax_unfit(graph, l.input, 1, hw)) is None:
            argmax_src[l.name] = (l.input, 1)
        else:
            host[l.name] = why
    layers = [l for l in graph.layers if l.op in OPS and l.name not in host]
    table = HEADER.size + DESCRIPTOR.size * len(layers)
    cursor = align(table)
    weights, consts = bytearray(), bytearray()
    w_addr, c_addr = {}, {}
    convs = [l for l in layers if isinstance(l, QConv)]
    rows_of = {c.name: stack_rows(_conv_shape(graph, c), hw) for c in convs}  # conv name -> stacked rows G
    for name, g in (stack or {}).items():
        _check_stack(next((c for c in convs if c.name == name), None), name, g, hw)
        rows_of[name] = g
    pools = {}  # conv name -> the average pool fused into its store
    producer = {c.output: c for c in convs}
    for l in graph.layers if fuse_pool and hw is not None else ():
        c = producer.get(l.input) if l.op == "avgpool" else None
        if c is None or rows_of[c.name] != 1:
            continue
        d = _conv_shape(graph, c)
        if pool_fusable(d, hw):
            try:
                tile_conv(d, hw, pool=True)
                pools[c.name] = l
            except ModelError:
                pass
    ups = {}  # conv name -> (the upsample it also writes, its first channel there)
    for l in graph.layers if fuse_up and hw is not None else ():
        if l.op != "upsample" or l.name in elided:
            continue
        parts, first = {}, 0
        for t in concat_leaves(graph, l.input):
            c = producer.get(t)
            if c is None or c.name in pools or c.name in ups or c.name in parts:
                break
            d = _conv_shape(graph, c, rows_of[c.name])
            if not up_fusable(d, l.factor):
                break
            try:
                tile_conv(d, hw, whole=True)
            except ModelError:
                break
            parts[c.name] = (l, first)
            first += graph.tensors[c.output].shape[1]
        else:
            ups.update(parts)
    for conv in convs:
        w_addr[conv.name] = cursor + len(weights)
        weights += packed_weights(stacked_weights(conv.weight, rows_of[conv.name], conv.stride))
        weights += b"\0" * (align(len(weights)) - len(weights))
    const_base = cursor + len(weights)
    for conv in convs:
        c_addr[conv.name] = const_base + len(consts)
        per_channel = pack_constants(conv)  # channel c's 8 bytes for each of its stacked rows
        consts += b"".join(per_channel[8 * c:8 * c + 8] * rows_of[conv.name] for c in range(len(per_channel) // 8))
        consts += b"\0" * (align(len(consts)) - len(consts))
    act_base = align(const_base + len(consts), TENSOR_ALIGN)  # activations start on a page
    born = {producer[l.input].output: l.output for l in pools.values()}
    order = {l.name: i for i, l in enumerate(graph.layers)}
    for u in {l.output: l for l, _ in ups.values()}.values():  # born with the producer that runs first
        first_conv = min((n for n, (l, _) in ups.items() if l is u), key=order.__getitem__)
        born[graph.layer(first_conv).output] = u.output
    plan = plan_memory(graph, act_base, keep=None if keep_all else set(), born_with=born,
                       reads={n: [src] for n, (src, _) in argmax_src.items()})
    descs = []
    for i, l in enumerate(layers):
        if l.op == "argmax":
            descs.append(_argmax_descriptor(graph, l, i, *argmax_src[l.name], plan, hw, i == len(layers) - 1))
            continue
        inp = graph.tensors[l.input]
        out = graph.tensors[l.output]
        segs = [s for t in l.inputs for s in plan.segments[t]]
        if len(segs) > MAX_SEGMENTS:
            raise ModelError(f"node {l.name!r} ({l.op}): reads {len(segs)} channel ranges, the descriptor holds "
                             f"{MAX_SEGMENTS}")
        d = Descriptor(layer=i, name=l.name, op=l.op, cin=sum(s.channels for s in segs), cout=out.shape[1],
                       h=inp.shape[2], w=inp.shape[3], ho=out.shape[2], wo=out.shape[3],
                       x_zp=inp.zero_point, y_zp=out.zero_point, out_addr=plan.addr[l.output], segments=segs,
                       in_pitch=_in_pitch(plan, segs), out_pitch=plan.pitch[l.output],
                       flags=FLAGS["last"] if i == len(layers) - 1 else 0)
        _check(l, channels=(max(d.cin, d.cout), "channels"), height=(max(d.h, d.ho), "height"),
               width=(max(d.w, d.wo), "width"), address=(plan.base + plan.peak, "address"))
        if max(d.in_pitch, d.ho * d.wo) > PLANE_MAX:
            raise ModelError(f"node {l.name!r} ({l.op}): a channel plane of {max(d.in_pitch, d.ho * d.wo):,} bytes "
                             f"(with its padding to the next) exceeds what one DMA command moves, {PLANE_MAX:,}")
        if isinstance(l, QConv):
            d.kernel, d.stride = l.kernel, l.stride
            d.factor = rows_of[l.name]
            d.cout, d.ho_v = d.cout * d.factor, -(-d.ho // d.factor)
            d.weight_addr, d.const_addr = w_addr[l.name], c_addr[l.name]
            d.flags |= FLAGS["relu"] if l.relu else 0
            pool, (up, first) = pools.get(l.name), ups.get(l.name, (None, 0))
            if pool is not None:
                d.flags |= FLAGS["pool"]
                d.aux_addr, d.pool_zp = plan.addr[pool.output], graph.tensors[pool.output].zero_point
                d.aux_pitch = plan.pitch[pool.output]
            if up is not None:  # channel c goes to the upsample's channel first + c
                d.flags |= FLAGS["up"]
                d.aux_addr, d.aux_pitch = plan.addr[up.output] + first * plan.pitch[up.output], plan.pitch[up.output]
                d.up_factor = up.factor
            d.group, d.band, d.strip = tile_conv(d, hw, pool is not None, up is not None) if hw is not None else \
                (d.cout, d.ho_v, d.wo)
        elif l.op == "avgpool":
            if not (inp.scale == out.scale and is_pow2(inp.scale)):
                raise ModelError(f"node {l.name!r} (AveragePool): input scale {inp.scale} and output scale "
                                 f"{out.scale} must be one power of two for the exact integer average")
            d.kernel, d.stride = 2, 2
            if any(p is l for p in pools.values()):
                d.flags |= FLAGS["fused"]
        elif l.op == "upsample":
            if (inp.scale, inp.zero_point) != (out.scale, out.zero_point):
                raise ModelError(f"node {l.name!r} (Resize): input and output quantization differ")
            if l.factor not in UPSAMPLE_FACTORS:
                raise ModelError(f"node {l.name!r} (Resize): scale factor {l.factor}; the controller repeats "
                                 f"line-buffer bytes by {', '.join(map(str, UPSAMPLE_FACTORS))} only")
            d.factor = l.factor
            if any(u is l for u, _ in ups.values()) or l.name in elided:
                d.flags |= FLAGS["fused"]
        line = {"avgpool": 2 * d.w, "upsample": d.w}.get(l.op, 0)
        half = line_half(hw)  # a row loads into one half while the other is written
        if hw is not None and line > half:
            raise ModelError(f"node {l.name!r} ({l.op}): rows of {d.w} pixels need {line} bytes of line buffer "
                             f"(config {hw.name!r} has {half} in each of its two halves)")
        descs.append(d)
    for d in descs if hw is not None else ():  # the compiler's limits must be the controller's
        why = refusal(d, hw)
        if why is not None:
            raise RuntimeError(f"compiler error: layer {d.name!r} compiled for config {hw.name!r} is a descriptor "
                               f"the controller refuses (error {error_code(why)}: {ERRORS[error_code(why)]})")
    image = bytearray(HEADER.pack(magic=int.from_bytes(MAGIC, "little"), version=VERSION, layers=len(descs),
                                  descriptor_size=DESCRIPTOR.size, table=HEADER.size, image_size=act_base))
    for d in descs:
        image += d.pack()
    image += b"\0" * (cursor - len(image))
    image += weights + consts
    image += b"\0" * (act_base - len(image))
    assert len(image) == act_base
    return Program(graph, descs, plan, image, len(weights), len(consts), host, elided)


def _in_pitch(plan: MemoryPlan, segs: list[Segment]) -> int:
    """The input planes' pitch: one for every segment (the tensors a layer reads have one H*W)."""
    pitches = {plan.pitch[s.tensor] for s in segs}
    assert len(pitches) == 1, f"segments of one input with plane pitches {sorted(pitches)}"
    return pitches.pop()


def argmax_unfit(graph: QGraph, src: str, factor: int, hw) -> str | None:
    """Why the controller cannot run an ArgMax over the channels of ``src`` with its labels upsampled
    by ``factor`` (None if it can): it reads one tensor, every channel's column segment of a row
    (at least a word) in half its line buffer, and the row's labels in the other half."""
    leaves = concat_leaves(graph, src)
    if len(leaves) != 1:
        return f"its input is {len(leaves)} tensors joined by a Concat; the controller reads one"
    c, _, w = graph.tensors[leaves[0]].shape[1:]
    words = line_half(hw) // ACT_WORD
    if not 2 <= c <= words:
        return f"{c} channels; the controller's line buffer takes 2 to {words}"
    if w > words * ACT_WORD:
        return f"rows of {w} pixels; the controller's line buffer takes up to {words * ACT_WORD}"
    if factor not in (1,) + UPSAMPLE_FACTORS:
        return f"labels upsampled by {factor}; the controller repeats bytes by {', '.join(map(str, UPSAMPLE_FACTORS))}"
    return None


def _argmax_descriptor(graph: QGraph, l, index: int, src: str, factor: int, plan: MemoryPlan, hw,
                       last: bool) -> Descriptor:
    """The on-chip ArgMax over the channels of ``src``, its labels (int8 class indices) upsampled by
    ``factor``. The controller loads each input row in column segments of ``strip`` bytes, every
    channel's segment into half the line buffer, and builds the row's labels in the other half
    (``argmax_unfit`` said it can)."""
    c, h, w = graph.tensors[src].shape[1:]
    segs = plan.segments[src]  # one (argmax_unfit)
    words = line_half(hw) // ACT_WORD // c  # a segment's words per channel
    out = l.output
    d = Descriptor(layer=index, name=l.name, op="argmax", cin=c, cout=1, h=h, w=w, ho=h * factor,
                   wo=w * factor, factor=factor, strip=words * ACT_WORD, out_addr=plan.addr[out],
                   segments=segs, in_pitch=_in_pitch(plan, segs), out_pitch=plan.pitch[out],
                   flags=FLAGS["last"] if last else 0)
    _check(l, channels=(c, "channels"), height=(d.ho, "height"), width=(d.wo, "width"),
           address=(plan.base + plan.peak, "address"))
    return d

