export * from './job-options.ts';
export * from './job-schemas.ts';
export * from './names.ts';
