"""The compiler: descriptors round-trip, the memory plan is sound, and the program-level model
executing the DRAM image reproduces onnxruntime on every layer."""

import numpy as np
import pytest

from compiler.executor import execute, load_program, read_descriptors, read_tensor
from compiler.memplan import plan_memory
from compiler.program import Descriptor, compile_graph
from hwspec.formats import FLAGS, MAX_SEGMENTS
from golden.capture import capture
from golden.cityscapes import Crop
from golden.intmodel import compare
from golden.qgraph import ModelError, load_qgraph
from onnx_models import model_path
from hwspec.config import get_config

CROPS = {
    "tiny": Crop(top=400, left=900, height=64, width=128),
    "hardnet70": Crop(top=384, left=768, height=128, width=256),
    "hardnet70_hw": Crop(top=384, left=768, height=128, width=256),
}


@pytest.fixture(scope="module", params=[("tiny", None), ("tiny", "sim"), ("hardnet70", None), ("hardnet70_hw", "sim")],
                ids=["tiny", "tiny-sim", "hardnet70", "hardnet70_hw-sim"])
def compiled(request):
    """Compiled whole-layer (no config), or for a config: tiny on sim stacks output rows on the
    array's rows (compiler.program.stack_rows) in its layers of 6 and 8 channels."""
    name, config = request.param
    cap = capture(model_path(name), CROPS[name])
    graph = load_qgraph(model_path(name), cap.input_size)
    prog = compile_graph(graph, get_config(config) if config else None)
    if (name, config) == ("tiny", "sim"):
        assert any(d.factor > 1 for d in prog.descriptors if d.op == "conv")
    return name, graph, cap, prog


def test_program_model_reproduces_onnxruntime_on_every_layer(compiled):
    name, graph, cap, prog = compiled
    dram = load_program(prog, cap["input"].data)
    execute(dram)
    results = []
    # the argmax reads the head's logits and upsamples its labels: the logits upsample is never written
    assert prog.elided == {"logits"} and prog.host_layers == []
    results = []
    for layer in graph.layers:
        if layer.op == "concat" or layer.name in prog.elided:
            continue  # concats are never materialized
        got = read_tensor(dram, prog.tensor_addr(layer.name), prog.output_shape(layer.name), prog.tensor_pitch(layer.name))
        results.append(compare(layer.output, cap[layer.output].data, got))  # the labels: int8 against int64
    print(f"{name}: {len(results)} tensors read back from DRAM, {sum(r.mismatches for r in results)} mismatches")
    assert all(r.ok for r in results), "\n".join(str(r) for r in results if not r.ok)


def test_descriptors_round_trip_through_the_image(compiled):
    _, _, cap, prog = compiled
    dram = load_program(prog, cap["input"].data)
    for written, read in zip(prog.descriptors, read_descriptors(dram), strict=True):
        read.name = written.name
        read.segments = [type(s)("", s.addr, s.channels) for s in read.segments]
        written_segs = [type(s)("", s.addr, s.channels) for s in written.segments]
        assert read == Descriptor(**{**written.__dict__, "segments": written_segs})


def test_keep_all_plan_never_overlaps_and_reuse_shrinks_it(compiled):
    """The keep-all plan (every tensor readable at the end) overlaps nothing; the reuse plan is
    smaller (its soundness is checked by running the network on it, below)."""
    _, graph, _, prog = compiled
    spans = sorted((prog.plan.addr[t], prog.plan.addr[t] + prog.plan.size[t], t) for t in prog.plan.addr)
    for (a0, a1, t0), (b0, b1, t1) in zip(spans, spans[1:]):
        assert a1 <= b0, f"{t0} and {t1} overlap"
    reuse = plan_memory(graph, 0, keep=set())
    assert reuse.peak < prog.plan.peak
    print(prog.plan.report())
    print(reuse.report())


def test_reuse_plan_still_computes_the_network():
    cap = capture(model_path("tiny"), CROPS["tiny"])
    graph = load_qgraph(model_path("tiny"), cap.input_size)
    prog = compile_graph(graph, keep_all=False)
    dram = load_program(prog, cap["input"].data)
    execute(dram)
    assert compare("labels", cap["labels"].data, read_tensor(dram, prog.tensor_addr("argmax"), (1, 64, 128), prog.tensor_pitch("argmax"))).ok


def test_argmax_without_fusion_reads_the_logits_and_checks_its_limits():
    """``fuse_argmax=False`` keeps the logits upsample a pass of its own and the argmax reads it (labels
    not upsampled); an argmax the line buffer cannot take runs on the host, the logits written."""
    cap = capture(model_path("tiny"), CROPS["tiny"])
    graph = load_qgraph(model_path("tiny"), cap.input_size)
    prog = compile_graph(graph, get_config("sim"), fuse_argmax=False)
    am = prog.descriptors[-1]
    assert not prog.elided and (am.op, am.factor, am.h, am.w, am.cin) == ("argmax", 1, 64, 128, 19)
    assert am.strip == 3 * 64  # 64 words in half the line buffer: 3 for each of 19 channels
    assert am.segments[0].addr == prog.tensor_addr("logits")
    dram = load_program(prog, cap["input"].data)
    execute(dram)
    for name in ("logits", "argmax"):
        t = prog.output_name(name)
        assert compare(t, cap[t].data, read_tensor(dram, prog.tensor_addr(name), prog.output_shape(name), prog.tensor_pitch(name))).ok
    fused = compile_graph(graph, get_config("sim"))
    assert (fused.descriptors[-1].factor, fused.descriptors[-1].segments[0].addr) == (4, fused.tensor_addr("head"))
    wide = load_qgraph(model_path("tiny"), (64, 128))
    for t in ("head", "logits"):  # more channels than the line buffer has words in a half
        wide.tensors[t].shape = (1, 65) + wide.tensors[t].shape[2:]
    host = compile_graph(wide, get_config("sim"))
    assert host.host_reasons == {"argmax": "65 channels; the controller's line buffer takes 2 to 64"}
    assert host.host_layers == ["argmax"] and not host.elided and host.descriptors[-1].name == "logits"


def test_avgpool_needs_one_power_of_two_scale():
    graph = load_qgraph(model_path("tiny"))
    graph.tensors["enc0.pool"].scale = np.float32(0.03)
    with pytest.raises(ModelError, match=r"node 'enc0.pool' \(AveragePool\): .* must be one power of two"):
        compile_graph(graph)


def test_too_many_concat_segments_names_the_node():
    graph = load_qgraph(model_path("tiny"))
    cat = graph.layer("dec0.cat")
    cat.inputs = cat.inputs * (MAX_SEGMENTS // 2 + 1)
    with pytest.raises(ModelError, match=r"node 'dec0.squeeze' \(conv\): reads \d+ channel ranges"):
        compile_graph(graph)


def test_a_channel_plane_past_one_dma_command_names_the_node():
    """A 4096x4096 frame's 16 MiB input planes (8 KB apart more: hwspec.bus.DramMap.plane_pitch): the
    DMA moves at most 2**24 - 1 bytes a command."""
    with pytest.raises(ModelError, match=r"node 'stem0' \(conv\): a channel plane of 16,785,408 bytes \(with its "
                                         r"padding to the next\) exceeds what one DMA command moves, 16,777,215"):
        compile_graph(load_qgraph(model_path("tiny"), (4096, 4096)), get_config("tiny"))


def test_pinned_stacking_is_checked_and_names_the_node():
    graph = load_qgraph(model_path("tiny"), (64, 128))
    prog = compile_graph(graph, get_config("tall"), stack={"enc0.trans": 2, "stem1": 1})
    by_name = {d.name: d for d in prog.descriptors}
    assert (by_name["enc0.trans"].stack, by_name["enc0.trans"].k_rows, by_name["stem1"].stack) == (2, 2, 1)
    with pytest.raises(ModelError, match=r"node 'enc1.trans' \(conv\): cannot stack 2 output rows of 24 channels "
                                         r"on the 32 rows of config 'tall'"):
        compile_graph(graph, get_config("tall"), stack={"enc1.trans": 2})
    with pytest.raises(ModelError, match=r"stack: no conv named 'enc9.l1'"):
        compile_graph(graph, get_config("tall"), stack={"enc9.l1": 2})


def test_fused_pools_and_upsamples_compute_the_network_and_never_share_the_convs_buffers():
    """Average pools fused into their transition convs (FLAGS["pool"] / FLAGS["fused"]) and upsamples into the
    convs whose outputs they read (FLAGS["up"]): the program model reproduces onnxruntime on every
    tensor, the fields round-trip, and in the reuse plan a fused output overlaps neither the conv's
    inputs nor its output (the conv writes it while it still reads them). ``fuse_pool=False`` and
    ``fuse_up=False`` (and ``fuse_argmax=False``: the logits upsample) keep every pool and upsample a
    pass of its own."""
    cap = capture(model_path("tiny"), Crop(top=400, left=900, height=32, width=512))
    graph = load_qgraph(model_path("tiny"), cap.input_size)
    for keep_all in (True, False):
        prog = compile_graph(graph, get_config("sim"), keep_all=keep_all)
        fused = [d for d in prog.descriptors if d.flags & FLAGS["pool"]]
        assert [d.name for d in fused] == ["enc0.trans", "enc1.trans"]
        assert all(d.band % 2 == 0 and d.strip == d.wo for d in fused)
        dram = load_program(prog, cap["input"].data)
        ups = [d for d in prog.descriptors if d.flags & FLAGS["up"]]
        assert {(d.name, d.up_factor) for d in ups} == {("enc2.trans", 2), ("dec0.l1", 2), ("dec0.l2", 2)}
        assert {d.name for d in prog.descriptors if d.flags & FLAGS["fused"]} == {"enc0.pool", "enc1.pool", "dec0.up",
                                                                           "dec1.up", "logits"}
        assert [(d.aux_addr, d.pool_zp, d.up_factor) for d in read_descriptors(dram) if d.flags & (FLAGS["pool"] | FLAGS["up"])] \
            == [(d.aux_addr, d.pool_zp, d.up_factor) for d in prog.descriptors if d.flags & (FLAGS["pool"] | FLAGS["up"])]
        execute(dram)
        fused += ups
        for pool in ("enc0.pool", "enc1.pool", "dec0.up", "dec1.up") if keep_all else ():
            t = graph.tensors[pool]
            assert compare(pool, cap[pool].data, read_tensor(dram, prog.tensor_addr(pool), t.shape, prog.tensor_pitch(pool))).ok
        assert compare("labels", cap["labels"].data, read_tensor(dram, prog.tensor_addr("argmax"), (1, 32, 512), prog.tensor_pitch("argmax"))).ok
        for d in fused:
            span = lambda a, n: (a, a + n)  # noqa: E731
            pool = span(d.aux_addr, d.cout // d.stack * d.aux_pitch)  # planes aux_pitch apart
            own = [span(s.addr, s.channels * d.in_pitch) for s in d.segments] + [span(d.out_addr, d.cout // d.stack * d.out_pitch)]
            for a, b in own:
                assert pool[1] <= a or b <= pool[0], (d.name, keep_all)
    plain = compile_graph(graph, get_config("sim"), fuse_pool=False, fuse_up=False, fuse_argmax=False)
    assert not any(d.flags & (FLAGS["pool"] | FLAGS["fused"] | FLAGS["up"]) for d in plain.descriptors)


def test_a_tensor_born_with_its_producer_never_takes_the_producers_input():
    """x -> conv c -> avgpool p -> q: once c has run, x's pages are free and p, placed at its own
    layer, would take them; fused into c (written while c still reads x), p is placed with c."""
    from types import SimpleNamespace as NS

    tensors = {n: NS(shape=s) for n, s in [("x", (1, 1, 64, 64)), ("c", (1, 1, 64, 64)), ("p", (1, 1, 32, 32)),
                                           ("q", (1, 1, 32, 32))]}
    layers = [NS(op=op, inputs=[i], output=o) for op, i, o in [("conv", "x", "c"), ("avgpool", "c", "p"),
                                                               ("conv", "p", "q")]]
    graph = NS(layers=layers, tensors=tensors, input=NS(name="x"))
    alone = plan_memory(graph, 0, keep=set())
    assert alone.addr["p"] == alone.addr["x"]  # the pool's own layer: x is free by then
    fused = plan_memory(graph, 0, keep=set(), born_with={"c": "p"})
    spans = {t: (fused.addr[t], fused.addr[t] + fused.size[t]) for t in ("x", "c", "p")}
    assert all(spans["p"][1] <= a or b <= spans["p"][0] for a, b in (spans["x"], spans["c"])), spans
