/** Half precision by hand (Node 20 has no Float16Array): known bit patterns, ties to even, subnormals, inf. */
import { describe, expect, it } from 'vitest';
import { fromHalfBits, isHalfNonFinite, toHalfBits } from '../../src/protocol/float16.js';

describe('toHalfBits', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00],
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001],
    [1023 * 2 ** -24, 0x03ff],
    [2 ** -14, 0x0400],
    [-(2 ** -24), 0x8001],
    [1e-10, 0x0000],
  ])('%d -> 0x%s', (value, bits) => {
    expect(toHalfBits(value).toString(16)).toBe(bits.toString(16));
  });

  it('rounds ties to even, among normals and among subnormals', () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway between 0x3c00 and 0x3c01: the even one
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway between 0x3c01 and 0x3c02
    expect(toHalfBits(1 + 2 ** -11 + 2 ** -30)).toBe(0x3c01); // just past halfway: up
    expect(toHalfBits(2 ** -25)).toBe(0x0000); // half the smallest subnormal: to zero (even)
    expect(toHalfBits(3 * 2 ** -25)).toBe(0x0002);
    expect(toHalfBits(2 ** -25 + 2 ** -40)).toBe(0x0001);
    expect(toHalfBits(2047.5 * 2 ** -10 * 2 ** 15)).toBe(0x7c00); // 65520 rounds up into infinity
    expect(toHalfBits((1024 - 0.5) * 2 ** -24)).toBe(0x0400); // the largest subnormal's tie carries into the normals
  });

  it('gives a quiet NaN for NaN', () => {
    expect(toHalfBits(Number.NaN)).toBe(0x7e00);
  });
});

describe('fromHalfBits', () => {
  it.each([
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3555, 0.333251953125],
    [0x2e66, 0.0999755859375],
    [0x7bff, 65504],
    [0xc000, -2],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('0x%s', (bits, value) => {
    expect(fromHalfBits(bits)).toBe(value);
  });

  it('reads -0 and NaN', () => {
    expect(Object.is(fromHalfBits(0x8000), -0)).toBe(true);
    expect(fromHalfBits(0x7e00)).toBeNaN();
    expect(fromHalfBits(0xfc01)).toBeNaN();
  });

  it('round-trips every one of the 65536 bit patterns that is not NaN', () => {
    let checked = 0;
    const wrong: string[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromHalfBits(bits);
      if (Number.isNaN(value)) {
        if (!isHalfNonFinite(bits)) wrong.push(`0x${bits.toString(16)} is NaN but not non-finite`);
        continue;
      }
      const back = toHalfBits(value);
      if (back !== bits) wrong.push(`0x${bits.toString(16)} -> ${value} -> 0x${back.toString(16)}`);
      if (isHalfNonFinite(bits) === Number.isFinite(value)) wrong.push(`0x${bits.toString(16)}: finiteness`);
      checked++;
    }
    expect(wrong).toEqual([]);
    expect(checked).toBe(65536 - 2 * 1023);
  });
});
