import { loadModel } from "./dist/index.js";
import { readFileSync } from "node:fs";
const m = await loadModel("/work/shared/models/fixture-lm");
const text = readFileSync("/work/shared/data/wikitext-2-raw/wiki.test.raw","utf8").slice(0,40000);
const ids = m.tokenizer.encode(text).slice(0,4096);
let t0=performance.now(); await m.forward(ids,{positions:[]}); console.log("fwd1", (performance.now()-t0).toFixed(0));
t0=performance.now(); await m.forward(ids,{positions:[]}); console.log("fwd2", (performance.now()-t0).toFixed(0));
const st = await m.stepper(ids);
for (let l=0;l<3;l++){
 t0=performance.now(); await st.qkv(); const tq=performance.now()-t0;
 t0=performance.now(); for(let h=0;h<6;h++) await st.logits(h); const tl=(performance.now()-t0)/6;
 const T=4096; const ev=new Int32Array(6*T); for(let i=0;i<ev.length;i++){const j=i%T; ev[i]=Math.min(T, j+1+ (j*7919)%2000);} 
 t0=performance.now(); await st.attend(ev); const ta=performance.now()-t0;
 console.log(`layer ${l}: qkv ${tq.toFixed(0)} logits/head ${tl.toFixed(0)} attend+post ${ta.toFixed(0)}`);
}
