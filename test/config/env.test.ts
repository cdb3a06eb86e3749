// The environment helpers every capability parses its settings with: each refusal names the variable.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, atLeast, atMost, duration, flag, httpUrl, integer, integerInRange, list, oneOf, optional, required, trimmed } from '../../src/platform/env';

test('the helpers import nothing of Parley, so any module may use them without pulling another in', () => {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'platform', 'env.ts'), 'utf8');
  expect(source).not.toMatch(/^\s*(import|export)[^;]*from\s+['"]\./m);
  expect(source).not.toMatch(/require\(/);
});

test('unset and empty are the same; trimmed drops white space first', () => {
  expect(optional({}, 'X')).toBeUndefined();
  expect(optional({ X: '' }, 'X')).toBeUndefined();
  expect(optional({ X: ' a ' }, 'X')).toBe(' a ');
  expect(trimmed({ X: '  ' }, 'X')).toBeUndefined();
  expect(trimmed({ X: ' a ' }, 'X')).toBe('a');
});

test('required names the variable and what to put in it', () => {
  expect(required({ X: ' v ' }, 'X')).toBe('v');
  expect(() => required({ X: ' ' }, 'X', 'a queue name')).toThrow(new ConfigError('X is required: a queue name'));
  expect(() => required({}, 'X')).toThrow(new ConfigError('X is required'));
});

test('whole numbers, with and without bounds', () => {
  expect(integer({}, 'N', 7)).toBe(7);
  expect(integer({ N: '12' }, 'N', 7)).toBe(12);
  expect(() => integer({ N: '1.5' }, 'N', 7)).toThrow(new ConfigError('N must be a whole number, got "1.5"'));
  expect(() => integer({ N: '-1' }, 'N', 7)).toThrow(ConfigError);
  expect(integerInRange({ N: ' 3 ' }, 'N', 1, 1, 10)).toBe(3);
  expect(() => integerInRange({ N: '11' }, 'N', 1, 1, 10)).toThrow(new ConfigError('N must be a whole number from 1 to 10, got "11"'));
  expect(atLeast('N', 5, 2)).toBe(5);
  expect(() => atLeast('N', 1, 2)).toThrow(new ConfigError('N must be at least 2, got 1'));
  expect(atMost('T', 8000, 8000, 'ms')).toBe(8000);
  expect(() => atMost('T', 9000, 8000, 'ms')).toThrow(new ConfigError('T must be at most 8000 ms, got 9000'));
  expect(() => atMost('N', 11, 10)).toThrow(new ConfigError('N must be at most 10, got 11'));
});

test('durations: milliseconds or a unit; zero only when allowed', () => {
  expect(duration({}, 'D', 5)).toBe(5);
  expect(duration({ D: '1500' }, 'D', 5)).toBe(1500);
  expect(duration({ D: '250ms' }, 'D', 5)).toBe(250);
  expect(duration({ D: ' 90s ' }, 'D', 5)).toBe(90_000);
  expect(duration({ D: '30m' }, 'D', 5)).toBe(1_800_000);
  expect(duration({ D: '2h' }, 'D', 5)).toBe(7_200_000);
  expect(duration({ D: '0s' }, 'D', 5, { allowZero: true })).toBe(0);
  expect(() => duration({ D: '0' }, 'D', 5)).toThrow(new ConfigError('D must be positive'));
  expect(() => duration({ D: '1d' }, 'D', 5)).toThrow(new ConfigError('D must be milliseconds or a duration like 90s, 30m, 2h; got "1d"'));
});

test('flags, choices and lists', () => {
  expect(flag({}, 'F')).toBeUndefined();
  expect(flag({ F: 'TRUE' }, 'F')).toBe(true);
  expect(flag({ F: ' false ' }, 'F')).toBe(false);
  expect(() => flag({ F: 'yes' }, 'F')).toThrow(new ConfigError('F must be true or false, got "yes"'));
  expect(oneOf({}, 'C', ['Strict', 'Lax', 'None'], 'Strict')).toBe('Strict');
  expect(oneOf({ C: 'none' }, 'C', ['Strict', 'Lax', 'None'], 'Strict')).toBe('None');
  expect(() => oneOf({ C: 'sometimes' }, 'C', ['Strict', 'Lax', 'None'], 'Strict')).toThrow(new ConfigError('C must be Strict, Lax or None, got "sometimes"'));
  expect(list({ L: ' a, b  c,,' }, 'L')).toEqual(['a', 'b', 'c']);
  expect(list({ L: ' a b , c ' }, 'L', ',')).toEqual(['a b', 'c']);
  expect(list({}, 'L')).toEqual([]);
});

test('http URLs', () => {
  expect(httpUrl({}, 'U')).toBeUndefined();
  expect(httpUrl({ U: ' https://peer.example/x ' }, 'U')).toBe('https://peer.example/x');
  expect(() => httpUrl({ U: 'peer.example' }, 'U')).toThrow(new ConfigError('U is not a URL'));
  expect(() => httpUrl({ U: 'ftp://peer.example' }, 'U')).toThrow(new ConfigError('U must be an http:// or https:// URL'));
});
