"""Constrained-random networks (onnx_models.random_net: convs 1x1/3x3 of stride 1/2, concat, average
pool, upsample, argmax; random channel counts, crop sizes, zero points and per-channel weight scales)
compiled for the tiny config and run chained through the RTL: every tensor equals onnxruntime's and
every layer's counters equal the cycle model's. Case i runs the network of seed ``--seed * N_NETS + i``,
printed with the commands that replay it alone."""

import onnx
import pytest

from compiler.estimate import estimate
from compiler.program import compile_graph
from golden.capture import capture
from golden.qgraph import load_qgraph
from hwspec.config import get_config
from onnx_models.random_net import crop_args, random_net
from tb.accel_run import run_accel
from tests.rtl_helpers import assert_model_equals_counters
from tests.test_rtl_accel import check

N_NETS = 12
CONFIG = "tiny"  # 4x4 array, small buffers: row bands and column strips on most networks


def compiled(net, folder):
    """The network saved in ``folder``, its golden capture on its crop, and its program for CONFIG."""
    path = folder / f"random-{net.seed}.onnx"
    onnx.save(net.model, str(path))
    gold = capture(path, net.crop)
    return path, gold, compile_graph(load_qgraph(path, gold.input_size), get_config(CONFIG))


@pytest.mark.parametrize("case", range(N_NETS))
def test_random_network_bit_exact_and_cycle_model_exact(seed, case, tmp_path):
    net = random_net(seed * N_NETS + case, "ci")
    print(net.describe())
    print(f"replay: python -m onnx_models.random_net --seed {net.seed} --profile ci --out random-{net.seed}.onnx && "
          f"python -m tb.accel_run --model random-{net.seed}.onnx {crop_args(net.crop)} --config {CONFIG}")
    _, gold, prog = compiled(net, tmp_path)
    res = run_accel(prog, gold, config=CONFIG)
    check(res, prog, gold, CONFIG)
    assert len(res.layers) == len(prog.descriptors) and all(l.elided or l.comparison.elements > 0 for l in res.layers)
    assert_model_equals_counters(res, estimate(prog, get_config(CONFIG)), f"random network {net.seed}")


def test_random_networks_draw_every_kind_of_op(seed):
    """200 networks of profile ``ci`` from --seed draw every kind of op the generator knows (the
    rarest, an upsample by 4, is in about 7% of networks: all 200 miss it with odds of 5e-7)."""
    drawn = set()
    for s in range(seed * 1000, seed * 1000 + 200):
        drawn |= random_net(s, "ci").kinds
    print(f"{len(drawn)} kinds drawn: {', '.join(sorted(drawn))}")
    assert drawn == {f"conv{k}x{k}/{s}" for k in (1, 3) for s in (1, 2)} | {
        "concat", "relu", "avgpool", "up2", "up4", "argmax"}, sorted(drawn)


def test_random_networks_compile_and_equal_onnxruntime(seed, tmp_path):
    """Without the RTL: 16 networks of profile ``ci`` from --seed, each accepted by the validator and
    compiled for the tiny config, and the int8 output the generator computed with golden.contract as
    it drew the network equals onnxruntime's, element for element."""
    for s in range(seed * 1000, seed * 1000 + 16):
        net = random_net(s, "ci")
        _, gold, prog = compiled(net, tmp_path)
        assert prog.descriptors, net.describe()
        got = gold[net.last].data[0]
        assert got.shape == net.expected.shape and (got == net.expected).all(), \
            f"{net.describe()}: {int((got != net.expected).sum())} of {got.size} elements differ from onnxruntime"


# A bug the soak found (nox -s soak, seed 1041595220), not fixed yet: the argmax over 26 channels of
# rows wider than its column segment (150 = 128 + 22, or 192 = 128 + 64 bytes) writes wrong labels
# in its second segment on the first two and the last two to four rows (76 of 2,700 at 9x75); rows
# of one segment (128 wide) are right. Strict: the day the RTL computes it, this test fails and goes.
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="known RTL bug: argmax's second column segment on the first and last rows")
def test_known_bug_argmax_second_segment_on_first_and_last_rows(tmp_path):
    net = random_net(1041595220, "soak")
    _, gold, prog = compiled(net, tmp_path)
    res = run_accel(prog, gold, config=CONFIG, isolated=True, layers=["argmax"])
    assert len(res.layers) == 1 and res.layers[0].name == "argmax"
    c = res.layers[0].comparison
    print(c)
    assert c.elements == 18 * 150 and c.mismatches == 0, c
