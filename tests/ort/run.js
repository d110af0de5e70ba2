// Runs an ONNX model under ONNX Runtime (CPU, one thread) for hwnas's checks.
//
//   node run.js MODEL.onnx INPUT.f32 N C H W OUTPUT.f32
//       INPUT.f32: N*C*H*W float32 (little-endian, NCHW); writes the model's
//       'logits' output as float32 to OUTPUT.f32 and prints its shape as JSON.
//   node run.js MODEL.onnx --time C H W [RUNS]
//       batch 1 latency: 10 warm-up runs, then RUNS (default 200) timed runs;
//       prints {"median_ms": ..., "min_ms": ..., "runs": ...} as JSON.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function fail(msg) {
    process.stderr.write(`run.js: ${msg}\n`);
    process.exit(2);
}

function dims(args) {
    const d = args.map((s) => Number(s));
    for (let i = 0; i < d.length; i++)
        if (!Number.isInteger(d[i]) || d[i] < 1) fail(`'${args[i]}' is not a positive size`);
    return d;
}

async function main() {
    const a = process.argv.slice(2);
    if (a.length < 2) fail('usage: run.js MODEL.onnx INPUT.f32 N C H W OUTPUT.f32 | MODEL.onnx --time C H W [RUNS]');
    const session = await ort.InferenceSession.create(a[0], {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    if (a[1] === '--time') {
        const [c, h, w] = dims(a.slice(2, 5));
        const runs = a[5] ? dims([a[5]])[0] : 200;
        const x = new Float32Array(c * h * w);
        for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 256) / 255;
        const feeds = { input: new ort.Tensor('float32', x, [1, c, h, w]) };
        for (let i = 0; i < 10; i++) await session.run(feeds);
        const t = [];
        for (let i = 0; i < runs; i++) {
            const t0 = process.hrtime.bigint();
            await session.run(feeds);
            t.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        t.sort((p, q) => p - q);
        console.log(JSON.stringify({ median_ms: t[runs >> 1], min_ms: t[0], runs }));
        return;
    }
    if (a.length !== 7) fail('usage: run.js MODEL.onnx INPUT.f32 N C H W OUTPUT.f32');
    const [n, c, h, w] = dims(a.slice(2, 6));
    const buf = fs.readFileSync(a[1]);
    if (buf.length !== n * c * h * w * 4)
        fail(`${a[1]}: ${buf.length} bytes, expected ${n * c * h * w * 4} for ${n}x${c}x${h}x${w} float32`);
    const x = new Float32Array(buf.buffer, buf.byteOffset, n * c * h * w);
    const out = await session.run({ input: new ort.Tensor('float32', x, [n, c, h, w]) });
    if (!out.logits) fail(`${a[0]}: no output named 'logits'`);
    const y = out.logits.data;
    fs.writeFileSync(a[6], Buffer.from(y.buffer, y.byteOffset, y.length * 4));
    console.log(JSON.stringify({ logits: out.logits.dims }));
}

main().catch((e) => fail(e.message || String(e)));
