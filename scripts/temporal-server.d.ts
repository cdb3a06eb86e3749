export declare const TEMPORAL_SERVER_VERSION: string;
export declare const temporalServerPaths: { dir: string; server: string; sqlTool: string; postgresSchema: string };
export declare function ensureTemporalServer(log?: (line: string) => void): typeof temporalServerPaths;
