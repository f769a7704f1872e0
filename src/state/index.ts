export * from './fleet-store.ts';
export * from './record-schemas.ts';
