// The TypeScript type a JSON schema describes, for the schema forms Parley writes (string, number,
// integer, boolean, enum, anyOf, array, object with properties/required or a value schema). A
// message's shape is then written once, as the schema its receiver validates with, and its type
// follows. Types only: nothing here reaches the workflow bundle's code.

/** Flattens an intersection so editors and error messages show one object. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RequiredKeys<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;

type ObjectType<P, R> = Simplify<
  { -readonly [K in keyof P & R]: FromSchema<P[K]> } & { -readonly [K in Exclude<keyof P, R>]?: FromSchema<P[K]> }
>;

/**
 * `additionalProperties: true` next to `properties` adds no index signature: unknown fields are
 * accepted on the wire but are not part of the message. A schema with no type says nothing: unknown.
 */
export type FromSchema<S> = S extends { readonly anyOf: readonly (infer A)[] }
  ? FromSchema<A>
  : S extends { readonly enum: readonly (infer E)[] }
    ? E
    : S extends { readonly type: 'string' }
      ? string
      : S extends { readonly type: 'integer' | 'number' }
        ? number
        : S extends { readonly type: 'boolean' }
          ? boolean
          : S extends { readonly type: 'array'; readonly items: infer I }
            ? FromSchema<I>[]
            : S extends { readonly type: 'object'; readonly properties: infer P }
              ? ObjectType<P, RequiredKeys<S>>
              : S extends { readonly type: 'object'; readonly additionalProperties: infer V extends object }
                ? Record<string, FromSchema<V>>
                : S extends { readonly type: 'object' }
                  ? Record<string, unknown>
                  : unknown;
