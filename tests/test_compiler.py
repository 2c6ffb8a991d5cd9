"""The compiler: descriptors round-trip, the memory plan is sound, and the program-level model
executing the DRAM image reproduces onnxruntime on every layer."""

import numpy as np
import pytest

from compiler.executor import execute, load_program, read_descriptors, read_tensor
from compiler.memplan import plan_memory
from compiler.program import MAX_SEGMENTS, Descriptor, compile_graph
from golden.capture import capture
from golden.cityscapes import Crop
from golden.intmodel import compare
from golden.qgraph import ModelError, load_qgraph
from onnx_models import model_path
from rtl.config import get_config

CROPS = {
    "tiny": Crop(top=400, left=900, height=64, width=128),
    "hardnet70": Crop(top=384, left=768, height=128, width=256),
}


@pytest.fixture(scope="module", params=[("tiny", None), ("tiny", "sim"), ("hardnet70", None)],
                ids=["tiny", "tiny-sim", "hardnet70"])
def compiled(request):
    """Compiled whole-layer (no config), or for a config: tiny on sim stacks output rows on the
    array's rows (compiler.program.stack_rows) in its layers of 6 and 8 channels."""
    name, config = request.param
    cap = capture(model_path(name), CROPS[name])
    graph = load_qgraph(model_path(name), cap.input_size)
    prog = compile_graph(graph, get_config(config) if config else None)
    if config == "sim":
        assert any(d.factor > 1 for d in prog.descriptors if d.op == "conv")
    return name, graph, cap, prog


def test_program_model_reproduces_onnxruntime_on_every_layer(compiled):
    name, graph, cap, prog = compiled
    dram = load_program(prog, cap["input"].data)
    execute(dram)
    results = []
    for layer in graph.layers:
        if layer.op in ("concat", "argmax"):
            continue  # concats are never materialized; argmax runs on the host
        t = graph.tensors[layer.output]
        results.append(compare(layer.output, cap[layer.output].data, read_tensor(dram, prog.tensor_addr(t.name), t.shape)))
    print(f"{name}: {len(results)} tensors read back from DRAM, {sum(r.mismatches for r in results)} mismatches")
    assert all(r.ok for r in results), "\n".join(str(r) for r in results if not r.ok)


def test_descriptors_round_trip_through_the_image(compiled):
    _, _, cap, prog = compiled
    dram = load_program(prog, cap["input"].data)
    for written, read in zip(prog.descriptors, read_descriptors(dram)):
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
    logits = graph.tensors["logits"]
    assert compare("logits", cap["logits"].data, read_tensor(dram, prog.tensor_addr("logits"), logits.shape)).ok


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
