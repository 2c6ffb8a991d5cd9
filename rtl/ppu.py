"""Post-processing unit: bias add, exact integer requantization, clamp, zero point, int8 saturate.

Implements ``golden.contract.requantize_int`` (equal to onnxruntime's float32 requantization for
every int32 accumulator) as a 6-stage pipeline, one result per cycle:

  S1 sum = acc + bias (int32, wraps: the compiler folds -x_zp*sum(w) into bias modulo 2**32)
  S2 |sum| rounded to a 24-bit mantissa a24 * 2**sh, nearest-even   (int32 -> float32)
  S3 a24 * mant (48 bits)
  S4 product rounded to 24 bits p24 * 2**t, nearest-even             (float32 multiply)
  S5 p24 * 2**(sh + t + exp) to an integer, nearest-even, capped at 511 (saturates anyway)
  S6 sign, clamp to [qmin - y_zp, qmax - y_zp], + y_zp

Ports: clk; i_valid, i_acc int32, i_bias int32, i_mant uint24 (2**23 <= mant < 2**24), i_exp
int10 (power of two of mant's LSB), i_yzp/i_qmin/i_qmax int8, i_tag (any width, carried along);
o_valid, o_y int8, o_tag. Latency ``PPU_LATENCY`` cycles.
"""

from myhdl import Signal, always, block, intbv, modbv

from hwspec.config import PPU_LATENCY

__all__ = ["ppu", "ppu_signals"]


def _s(lo, hi, v=0):
    return Signal(intbv(v, min=lo, max=hi))


def _u(bits):
    return Signal(intbv(0)[bits:])


def ppu_signals(tag_bits=1):
    return dict(
        i_valid=Signal(bool(0)), i_acc=_s(-(2**31), 2**31), i_bias=_s(-(2**31), 2**31),
        i_mant=_u(24), i_exp=_s(-512, 512), i_yzp=_s(-128, 128), i_qmin=_s(-128, 128, -128),
        i_qmax=_s(-128, 128, 127), i_tag=_u(tag_bits),
        o_valid=Signal(bool(0)), o_y=_s(-128, 128), o_tag=_u(tag_bits),
    )


@block
def ppu(clk, i_valid, i_acc, i_bias, i_mant, i_exp, i_yzp, i_qmin, i_qmax, i_tag, o_valid, o_y, o_tag):
    tb = len(i_tag)
    # stage registers: v* valid, g* tag, then what each later stage still needs
    v1, v2, v3, v4, v5 = [Signal(bool(0)) for _ in range(5)]
    g1, g2, g3, g4, g5 = [_u(tb) for _ in range(5)]
    m1, m2 = _u(24), _u(24)
    e1, e2, e3, e4 = [_s(-512, 512) for _ in range(4)]
    z1, z2, z3, z4, z5 = [_s(-128, 128) for _ in range(5)]
    lo1, lo2, lo3, lo4, lo5 = [_s(-128, 128) for _ in range(5)]
    hi1, hi2, hi3, hi4, hi5 = [_s(-128, 128) for _ in range(5)]
    n2, n3, n4, n5 = [Signal(bool(0)) for _ in range(4)]  # sign of the sum
    sum1 = Signal(modbv(0, min=-(2**31), max=2**31))
    a24 = _u(24)  # S2 mantissa of |sum|
    sh2, sh3 = _u(4), _u(4)  # its shift, 0..9
    prod3 = _u(48)
    p24 = _u(24)
    ex4 = _s(-1024, 1024)  # sh + t + exp
    mag5 = _u(9)  # |result| before clamp, capped at 511

    @always(clk.posedge)
    def stages():
        # S1
        v1.next = i_valid
        g1.next = i_tag
        m1.next = i_mant
        e1.next = i_exp
        z1.next = i_yzp
        lo1.next = i_qmin
        hi1.next = i_qmax
        sum1.next = i_acc + i_bias

        # S2: |sum| -> a24 * 2**sh, round half to even
        mag = intbv(0)[32:]
        if sum1 < 0:
            mag[:] = -sum1
        else:
            mag[:] = sum1
        bl = intbv(0, min=0, max=33)
        for b in range(32):
            if mag[b]:
                bl[:] = b + 1
        sh = intbv(0)[4:]
        if bl > 24:
            sh[:] = bl - 24
        q = intbv(0)[32:]
        q[:] = mag >> sh
        guard = False
        sticky = False
        for b in range(8):
            if b + 1 == sh:
                guard = bool(mag[b])
            if b + 1 < sh:
                sticky = sticky or bool(mag[b])
        r = intbv(0)[25:]
        if guard and (sticky or bool(q[0])):
            r[:] = q[25:] + 1
        else:
            r[:] = q[25:]
        if r[24]:  # rounded up to 2**24: renormalize
            a24.next = r[25:1]
            sh2.next = sh + 1
        else:
            a24.next = r[24:]
            sh2.next = sh
        v2.next = v1
        g2.next = g1
        m2.next = m1
        e2.next = e1
        z2.next = z1
        lo2.next = lo1
        hi2.next = hi1
        n2.next = sum1 < 0

        # S3
        prod3.next = a24 * m2
        sh3.next = sh2
        v3.next = v2
        g3.next = g2
        e3.next = e2
        z3.next = z2
        lo3.next = lo2
        hi3.next = hi2
        n3.next = n2

        # S4: product -> p24 * 2**t, round half to even
        bl2 = intbv(0, min=0, max=49)
        for b in range(48):
            if prod3[b]:
                bl2[:] = b + 1
        t = intbv(0, min=-32, max=32)  # signed, so e3 + sh3 + t stays a signed sum in Verilog
        if bl2 > 24:
            t[:] = bl2 - 24
        q2 = intbv(0)[48:]
        q2[:] = prod3 >> t
        guard2 = False
        sticky2 = False
        for b in range(24):
            if b + 1 == t:
                guard2 = bool(prod3[b])
            if b + 1 < t:
                sticky2 = sticky2 or bool(prod3[b])
        r2 = intbv(0)[25:]
        if guard2 and (sticky2 or bool(q2[0])):
            r2[:] = q2[25:] + 1
        else:
            r2[:] = q2[25:]
        if r2[24]:
            p24.next = r2[25:1]
            ex4.next = e3 + sh3 + t + 1
        else:
            p24.next = r2[24:]
            ex4.next = e3 + sh3 + t
        v4.next = v3
        g4.next = g3
        z4.next = z3
        lo4.next = lo3
        hi4.next = hi3
        n4.next = n3

        # S5: p24 * 2**ex4 to an integer, round half to even; >= 511 saturates anyway
        big = intbv(0)[33:]
        if p24 == 0:
            mag5.next = 0
        elif ex4 >= 0:
            if ex4 > 8:
                mag5.next = 511
            else:
                big[:] = p24 << ex4[4:]
                if big > 511:
                    mag5.next = 511
                else:
                    mag5.next = big[9:]
        elif ex4 < -25:
            mag5.next = 0  # below half of the smallest step
        else:
            rs = intbv(0)[5:]
            rs[:] = -ex4
            q3 = intbv(0)[24:]
            q3[:] = p24 >> rs
            guard3 = False
            sticky3 = False
            for b in range(24):  # rs == 25: the guard bit (bit 24) is 0
                if b + 1 == rs:
                    guard3 = bool(p24[b])
                if b + 1 < rs:
                    sticky3 = sticky3 or bool(p24[b])
            if q3 > 510:
                mag5.next = 511
            elif guard3 and (sticky3 or bool(q3[0])):
                mag5.next = q3[9:] + 1
            else:
                mag5.next = q3[9:]
        v5.next = v4
        g5.next = g4
        z5.next = z4
        lo5.next = lo4
        hi5.next = hi4
        n5.next = n4

        # S6: sign, clamp, zero point
        val = intbv(0, min=-512, max=512)
        if n5:
            val[:] = -mag5
        else:
            val[:] = mag5
        lo = intbv(0, min=-512, max=512)
        hi = intbv(0, min=-512, max=512)
        lo[:] = lo5 - z5
        hi[:] = hi5 - z5
        if val < lo:
            val[:] = lo
        elif val > hi:
            val[:] = hi
        o_y.next = val + z5
        o_valid.next = v5
        o_tag.next = g5

    return stages
