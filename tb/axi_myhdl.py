"""MyHDL's own simulation of the DMA masters (before conversion), with a small cycle-level AXI
memory responder and random ready/valid pauses: the guard against MyHDL and the converted Verilog
disagreeing. Slow (a few thousand cycles per second): a handful of short commands only.

Inputs are driven just after each falling edge, handshakes are read 1 ns later (combinational
outputs settled) and take effect at the next rising edge.
"""

from __future__ import annotations

import random

from myhdl import Signal, StopSimulation, block, delay, instance

from hwspec.bus import AxiDmaConfig
from rtl.axi_rd import axi_rd, axi_rd_signals
from rtl.axi_wr import axi_wr, axi_wr_signals

__all__ = ["sim_rd", "sim_wr"]


def _run(bench):
    b = bench()
    b.run_sim(quiet=1)
    b.quit_sim()


def sim_rd(cfg: AxiDmaConfig, mem: bytes, cmds, seed=1, p=0.3):
    """Returns [(bytes, o_last indices, [(araddr, beats)])] per command."""
    rng = random.Random(seed)
    db = cfg.beat_bytes
    out = []

    @block
    def bench():
        clk, rst = Signal(bool(0)), Signal(bool(1))
        s = axi_rd_signals(cfg)
        dut = axi_rd(clk, rst, **s, max_burst=cfg.max_burst, outstanding=cfg.outstanding)

        @instance
        def clkgen():
            while True:
                yield delay(5)
                clk.next = not clk

        @instance
        def stim():
            beats = []  # (data, last) queued R beats
            for _ in range(3):
                yield clk.negedge
            rst.next = 0
            for addr, length in cmds:
                got, lasts, ars = [], [], []
                yield clk.negedge
                s["cmd_addr"].next, s["cmd_len"].next, s["cmd_valid"].next = addr, length, 1
                yield clk.negedge
                s["cmd_valid"].next = 0
                while True:
                    yield clk.negedge
                    s["m_axi_arready"].next = rng.random() >= p
                    s["o_ready"].next = rng.random() >= p
                    if beats and rng.random() >= p:
                        s["m_axi_rvalid"].next = 1
                        s["m_axi_rdata"].next, s["m_axi_rlast"].next = beats[0]
                    else:
                        s["m_axi_rvalid"].next = 0
                    yield delay(1)
                    if s["m_axi_arvalid"] and s["m_axi_arready"]:
                        a, n = int(s["m_axi_araddr"]), int(s["m_axi_arlen"]) + 1
                        ars.append((a, n))
                        for k in range(n):
                            beats.append((int.from_bytes(mem[a + k * db:a + (k + 1) * db], "little"), k == n - 1))
                    if s["m_axi_rvalid"] and s["m_axi_rready"]:
                        beats.pop(0)
                    if s["o_valid"] and s["o_ready"]:
                        got.append(int(s["o_data"]))
                        if s["o_last"]:
                            lasts.append(len(got) - 1)
                            break
                out.append((bytes(got), lasts, ars))
            raise StopSimulation

        return dut, clkgen, stim

    _run(bench)
    return out


def sim_wr(cfg: AxiDmaConfig, mem: bytearray, cmds, seed=1, p=0.3):
    """Writes each (addr, data) into ``mem`` through the block; returns [(done pulses, [(awaddr, beats)])]."""
    rng = random.Random(seed)
    db = cfg.beat_bytes
    out = []

    @block
    def bench():
        clk, rst = Signal(bool(0)), Signal(bool(1))
        s = axi_wr_signals(cfg)
        dut = axi_wr(clk, rst, **s, max_burst=cfg.max_burst, outstanding=cfg.outstanding)

        @instance
        def clkgen():
            while True:
                yield delay(5)
                clk.next = not clk

        @instance
        def stim():
            for _ in range(3):
                yield clk.negedge
            rst.next = 0
            for addr, data in cmds:
                aws, ws, slots, bq, idx, dones = [], [], [], 0, 0, 0
                yield clk.negedge
                s["cmd_addr"].next, s["cmd_len"].next, s["cmd_valid"].next = addr, len(data), 1
                yield clk.negedge
                s["cmd_valid"].next = 0
                while True:
                    yield clk.negedge
                    if s["done"]:
                        dones += 1
                        s["m_axi_bvalid"].next = s["i_valid"].next = 0
                        break
                    s["m_axi_awready"].next = rng.random() >= p
                    s["m_axi_wready"].next = rng.random() >= p
                    s["m_axi_bvalid"].next = bq > 0 and rng.random() >= p
                    ok = idx < len(data) and rng.random() >= p
                    s["i_valid"].next = ok
                    s["i_data"].next = data[idx] if ok else 0
                    yield delay(1)
                    if s["m_axi_awvalid"] and s["m_axi_awready"]:
                        a, n = int(s["m_axi_awaddr"]), int(s["m_axi_awlen"]) + 1
                        aws.append((a, n))
                        slots += [(a + k * db, k == n - 1) for k in range(n)]
                    if s["m_axi_wvalid"] and s["m_axi_wready"]:
                        ws.append((int(s["m_axi_wdata"]), int(s["m_axi_wstrb"]), bool(s["m_axi_wlast"])))
                    if s["m_axi_bvalid"] and s["m_axi_bready"]:
                        bq -= 1
                    if s["i_valid"] and s["i_ready"]:
                        idx += 1
                    while ws and slots:  # pair W beats with the AW beat slots, in order
                        (w, strb, last), (base, want_last) = ws.pop(0), slots.pop(0)
                        assert last == want_last, f"WLAST {last} on a beat where the burst {'ends' if want_last else 'goes on'}"
                        for lane in range(db):
                            if strb >> lane & 1:
                                mem[base + lane] = (w >> (8 * lane)) & 0xFF
                        bq += last
                out.append((dones, aws))
            raise StopSimulation

        return dut, clkgen, stim

    _run(bench)
    return out

