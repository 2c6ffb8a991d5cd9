"""The counters unit (ce_counters): the run's totals for the host registers and each layer's counter
record (hwspec.formats.COUNTER_RECORD), from what the controller says it is doing each cycle.

The controller reports, combinationally, one ACTIVITY per cycle (the engine running wins; otherwise
what its state machines wait on) and a few strobes; this unit keeps every count, so the accounting
rule lives here once and the controller only classifies its states.

Ports (synchronous to ``clk``; ``rst`` synchronous, active high, clears every counter):
  busy in: a run is in progress; each busy cycle counts in ``cycles`` and in its activity's counter.
  activity in [ACTIVITY_BITS]: hwspec.formats.ACTIVITY.index(kind) of this cycle ("other" counts in
      cycles only, each other kind also in its ACTIVITY_FIELD).
  run_clear in: the run starts: the totals restart from 0.
  layer_clear in: the layer's first cycle (its descriptor fetch): its counters restart with this
      cycle counted as a fetch cycle (cycles = fetch = 1), and the DMA byte counters are sampled.
  steps_valid in, steps in [32]: a tile retired with ``steps`` MAC steps: added to both step counts.
  rd_bytes in, wr_bytes in [32]: the DMAs' free-running byte counters (wrapping).
  rec_latch in: the layer's work is done: its bytes read and written since layer_clear are latched.
  t_cycles, t_engine, t_steps, t_load, t_store, t_fetch out [32]: the run's totals (host registers).
  record out [COUNTER_RECORD.size_bits]: the layer's record as the controller writes it to DRAM,
      fields where COUNTER_RECORD puts them.

Every counter wraps at 2**32. The same-cycle priority, lowest first: counting, steps, run_clear,
layer_clear (the controller never raises two of the last three together). rtl.models.counters_model
is the cycle-by-cycle model.
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, concat, intbv, modbv

from hwspec.formats import ACTIVITY, ACTIVITY_BITS, COUNTER_RECORD, TOTALS

__all__ = ["counters", "counters_signals", "build"]

# ACTIVITY (the controller's codes) and TOTALS (the host's total registers): hwspec.formats
WORD = 32
assert all(COUNTER_RECORD.fields[f].bits == WORD for f in COUNTER_RECORD.names)
assert [COUNTER_RECORD.fields[f].lo for f in COUNTER_RECORD.names] == [WORD * i for i in range(len(COUNTER_RECORD.names))]


def _u(bits):
    return Signal(intbv(0)[bits:]) if bits > 1 else Signal(bool(0))


def counters_signals():
    """A fresh set of ce_counters port signals (dict by port name, in port order)."""
    return dict(busy=_u(1), activity=_u(ACTIVITY_BITS), run_clear=_u(1), layer_clear=_u(1), steps_valid=_u(1),
                steps=_u(WORD), rd_bytes=_u(WORD), wr_bytes=_u(WORD), rec_latch=_u(1),
                **{t: _u(WORD) for t in TOTALS}, record=_u(COUNTER_RECORD.size_bits))


@block
def counters(clk, rst, busy, activity, run_clear, layer_clear, steps_valid, steps, rd_bytes, wr_bytes, rec_latch,
             t_cycles, t_engine, t_steps, t_load, t_store, t_fetch, record):
    ENGINE, FETCH, LOAD, STORE = (ACTIVITY.index(k) for k in ("engine", "fetch", "load", "store"))
    w = lambda: Signal(modbv(0)[WORD:])  # noqa: E731
    a_cycles, a_engine, a_steps, a_load, a_store, a_fetch = (w() for _ in range(6))  # run totals
    l_cycles, l_engine, l_steps, l_load, l_store, l_fetch = (w() for _ in range(6))  # this layer's
    rd0, wr0, l_rdb, l_wrb = w(), w(), w(), w()
    per_layer = dict(cycles=l_cycles, engine_cycles=l_engine, mac_steps=l_steps, load_stall=l_load,
                     store_stall=l_store, fetch=l_fetch, bytes_read=l_rdb, bytes_written=l_wrb)
    r7, r6, r5, r4, r3, r2, r1, r0 = (per_layer[f] for f in reversed(COUNTER_RECORD.names))

    @always_comb
    def outputs():
        t_cycles.next = a_cycles
        t_engine.next = a_engine
        t_steps.next = a_steps
        t_load.next = a_load
        t_store.next = a_store
        t_fetch.next = a_fetch
        record.next = concat(r7, r6, r5, r4, r3, r2, r1, r0)

    @always(clk.posedge)
    def count():
        if rst:
            a_cycles.next = 0
            a_engine.next = 0
            a_steps.next = 0
            a_load.next = 0
            a_store.next = 0
            a_fetch.next = 0
            l_cycles.next = 0
            l_engine.next = 0
            l_steps.next = 0
            l_load.next = 0
            l_store.next = 0
            l_fetch.next = 0
            rd0.next = 0
            wr0.next = 0
            l_rdb.next = 0
            l_wrb.next = 0
        else:
            if busy:
                a_cycles.next = a_cycles + 1
                l_cycles.next = l_cycles + 1
                if activity == ENGINE:
                    a_engine.next = a_engine + 1
                    l_engine.next = l_engine + 1
                elif activity == FETCH:
                    a_fetch.next = a_fetch + 1
                    l_fetch.next = l_fetch + 1
                elif activity == LOAD:
                    a_load.next = a_load + 1
                    l_load.next = l_load + 1
                elif activity == STORE:
                    a_store.next = a_store + 1
                    l_store.next = l_store + 1
            if steps_valid:
                a_steps.next = a_steps + steps
                l_steps.next = l_steps + steps
            if run_clear:
                a_cycles.next = 0
                a_engine.next = 0
                a_steps.next = 0
                a_load.next = 0
                a_store.next = 0
                a_fetch.next = 0
            if layer_clear:
                l_cycles.next = 1
                l_engine.next = 0
                l_steps.next = 0
                l_load.next = 0
                l_store.next = 0
                l_fetch.next = 1
                rd0.next = rd_bytes
                wr0.next = wr_bytes
            if rec_latch:
                l_rdb.next = rd_bytes - rd0
                l_wrb.next = wr_bytes - wr0

    return outputs, count


def build(directory: str, name: str = "ce_counters") -> str:
    """Convert the counters unit to ``directory/name.v`` (the same in every configuration)."""
    from rtl.hdl import convert

    return convert(counters(_u(1), _u(1), **counters_signals()), name, directory)
