"""Bit-field records: one table per word or structure the hardware and the software share.

A ``Record`` lists its fields from bit 0 up (little endian: byte i of the packed bytes holds bits
8i..8i+7). From the one table come Python's ``pack``/``unpack`` and the RTL's slices
(``bits(name)`` -> (hi, lo), as MyHDL writes ``word[hi:lo]``), so a field moves in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Field", "Record", "FieldError", "pad"]


class FieldError(ValueError):
    """A value that does not fit its field; the message names the record, the field and the range."""


@dataclass(frozen=True)
class Field:
    name: str
    lo: int  # first bit of element 0
    bits: int  # width of one element
    signed: bool = False
    count: int = 1  # elements of an array field, each ``bits`` wide, contiguous
    doc: str = ""

    @property
    def hi(self) -> int:
        """One past the last bit of the last element."""
        return self.lo + self.bits * self.count

    @property
    def range(self) -> tuple[int, int]:
        """Smallest and largest value an element holds."""
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1


def pad(bits: int) -> tuple:
    """A reserved gap of ``bits`` bits in a field list (written as zero)."""
    return (None, bits)


class Record:
    """``fields``: (name, bits[, signed][, count][, doc]) tuples (or ``pad(bits)``) from bit 0 up;
    ``size_bits`` is the record's whole width (what a DMA moves or a register holds), at least the
    fields' end."""

    def __init__(self, name: str, size_bits: int, fields):
        self.name = name
        self.size_bits = size_bits
        self.fields: dict[str, Field] = {}
        at = 0
        for spec in fields:
            fname, bits, *rest = spec
            signed = bool(rest[0]) if len(rest) > 0 else False
            count = rest[1] if len(rest) > 1 else 1
            doc = rest[2] if len(rest) > 2 else ""
            if fname is not None:
                if fname in self.fields:
                    raise ValueError(f"{name}: field {fname!r} twice")
                self.fields[fname] = Field(fname, at, bits, signed, count, doc)
            at += bits * count
        if at > size_bits:
            raise ValueError(f"{name}: fields take {at} bits, more than its {size_bits}")
        self.used_bits = at

    # ---- layout
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    @property
    def size(self) -> int:
        """Bytes of the whole record."""
        return -(-self.size_bits // 8)

    @property
    def used_bytes(self) -> int:
        """Bytes up to the last field's end: what the hardware reads of the record."""
        return -(-self.used_bits // 8)

    def field(self, name: str) -> Field:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"{self.name} has no field {name!r}; fields: {', '.join(self.fields)}") from None

    def bits(self, name: str, index: int = 0) -> tuple[int, int]:
        """(hi, lo) of element ``index`` of field ``name``: the RTL's ``word[hi:lo]``."""
        f = self.field(name)
        if not 0 <= index < f.count:
            raise IndexError(f"{self.name}.{name} has {f.count} elements, not an element {index}")
        lo = f.lo + index * f.bits
        return lo + f.bits, lo

    def span(self, name: str) -> tuple[int, int]:
        """(hi, lo) of the whole field, all elements of an array."""
        f = self.field(name)
        return f.hi, f.lo

    def offset(self, name: str) -> int:
        """Byte offset of a byte-aligned field."""
        f = self.field(name)
        if f.lo % 8:
            raise ValueError(f"{self.name}.{name} starts at bit {f.lo}, not on a byte")
        return f.lo // 8

    # ---- values
    def _element(self, f: Field, v: int, index: int | None) -> int:
        lo, hi = f.range
        if not isinstance(v, int) or not lo <= v <= hi:
            where = f"{self.name}.{f.name}" + (f"[{index}]" if index is not None else "")
            raise FieldError(f"{where} = {v!r} does not fit its {f.bits} bits ({lo}..{hi})")
        return v & ((1 << f.bits) - 1)

    def pack_int(self, **values) -> int:
        """The record as one integer (bit 0 = field 0's bit 0); missing fields are 0."""
        word = 0
        for name, v in values.items():
            f = self.field(name)
            if f.count == 1:
                word |= self._element(f, v, None) << f.lo
                continue
            v = list(v)
            if len(v) > f.count:
                raise FieldError(f"{self.name}.{name} holds {f.count} elements, not {len(v)}")
            for i, e in enumerate(v):
                word |= self._element(f, e, i) << (f.lo + i * f.bits)
        return word

    def pack(self, **values) -> bytes:
        return self.pack_int(**values).to_bytes(self.size, "little")

    def replace(self, raw: bytes, **values) -> bytes:
        """``raw`` with the named fields set to ``values``, every other bit as it was."""
        word = int.from_bytes(bytes(raw[: self.size]).ljust(self.size, b"\0"), "little")
        for name in values:
            hi, lo = self.span(name)
            word &= ~(((1 << (hi - lo)) - 1) << lo)
        return (word | self.pack_int(**values)).to_bytes(self.size, "little")

    def unpack_int(self, word: int) -> dict:
        out = {}
        for f in self.fields.values():
            elems = []
            for i in range(f.count):
                e = (word >> (f.lo + i * f.bits)) & ((1 << f.bits) - 1)
                if f.signed and e >> (f.bits - 1):
                    e -= 1 << f.bits
                elems.append(e)
            out[f.name] = elems[0] if f.count == 1 else elems
        return out

    def unpack(self, raw: bytes) -> dict:
        if len(raw) < self.used_bytes:
            raise FieldError(f"{self.name}: {len(raw)} bytes, fewer than its {self.used_bytes}")
        return self.unpack_int(int.from_bytes(bytes(raw[: self.size]), "little"))

    def __repr__(self) -> str:
        return f"Record({self.name!r}, {self.size_bits} bits, {len(self.fields)} fields)"
