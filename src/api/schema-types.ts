// Request types from the routes' own JSON schemas: a route registered on
// `app.withTypeProvider<SchemaTypes>()` gets its body, params and headers typed by what it validates.
import type { FastifyTypeProvider } from 'fastify';
import type { FromSchema } from '../conversation';

export interface SchemaTypes extends FastifyTypeProvider {
  validator: FromSchema<this['schema']>;
  serializer: FromSchema<this['schema']>;
}
