export * from './event-history.ts';
export * from './event-publisher.ts';
export * from './event-reader.ts';
export * from './event-schemas.ts';
