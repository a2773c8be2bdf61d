// Keeps the layering of STYLE.md honest: rooms import only rooms above them,
// services never import Fastify, nothing imports the engine, no cycles.
// channels sits above audience (STYLE.md lists it below): a channel owns the shape and the
// validation of its credentials (it knows its wire format), and the audience room, whose
// groups store those credentials, uses them; channels needs nothing from audience.
const ROOMS_IN_ORDER = [
  'regions', 'audit', 'auth', 'media', 'notices', 'render', 'channels', 'audience', 'campaigns', 'tracking', 'notifications', 'residents', 'tips', 'cases', 'workbench', 'engine',
];

const roomRules = ROOMS_IN_ORDER.map((room, index) => {
  const below = ROOMS_IN_ORDER.slice(index + 1);
  return below.length === 0
    ? null
    : {
        name: `${room}-imports-only-rooms-above`,
        severity: 'error',
        comment: `${room} may not import a room that comes after it in the data path`,
        from: { path: `^src/${room}/`, pathNot: '/routes\\.ts$' },
        to: { path: `^src/(${below.join('|')})/` },
      };
}).filter(Boolean);

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'lib-has-no-domain',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/(?!lib/)' },
    },
    {
      name: 'services-and-models-stay-out-of-fastify',
      severity: 'error',
      comment: 'only routes.ts, schemas.ts and src/http may know Fastify',
      from: { path: '^src/[^/]+/', pathNot: '(routes|schemas|plugin)\\.ts$|^src/(http|app\\.ts|main\\.ts)' },
      to: { path: 'node_modules/(fastify|@fastify)/' },
    },
    {
      name: 'only-config-reads-env',
      severity: 'error',
      comment: 'process.env is read in src/config.ts only (checked by a test)',
      from: { path: '^src/(?!config\\.ts)' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'rooms-stay-inside-the-shell',
      severity: 'error',
      comment: 'a room (except its routes.ts) never imports the HTTP glue or the composition root',
      from: { path: '^src/[a-z-]+/', pathNot: '^src/(http|db|lib)/|/routes\\.ts$' },
      to: { path: '^src/(http/|app\\.ts|context\\.ts|main\\.ts)' },
    },
    {
      name: 'doubles-share-no-code-with-adapters',
      severity: 'error',
      comment:
        'the robot doubles check what the adapters send: written from the platform documents, never with the adapters\' signing, limits or checks, or a mistake in those would pass every test',
      from: { path: '^src/channels/doubles/' },
      to: { path: '^src/channels/(?!doubles/)' },
    },
    ...roomRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
