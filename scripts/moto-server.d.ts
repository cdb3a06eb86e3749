export declare const moto: { pkg: string; version: string; binary: string; envVar: string };
export declare const venvDir: string;
export declare function venvBinary(): string;
export declare function installedMarker(): string;
export declare function findMotoServer(): string | undefined;
export declare function requireMotoServer(): string;
export declare function motoServerCommand(): [string, string[]];
