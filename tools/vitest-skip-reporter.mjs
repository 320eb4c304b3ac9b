// A vitest reporter that prints, after the run, how many tests were skipped and which suites they
// belong to, so a GPU-less CI log shows exactly what did not run (the suites print their reason).
export default class SkipSummaryReporter {
  onFinished(files = []) {
    const skipped = [];
    const walk = (task, path) => {
      const name = path ? `${path} > ${task.name}` : task.name;
      if (task.type === "test" && (task.mode === "skip" || task.mode === "todo" || task.result?.state === "skip")) skipped.push(name);
      for (const child of task.tasks ?? []) walk(child, task.type === "suite" ? name : path);
    };
    for (const file of files) for (const t of file.tasks ?? []) walk(t, file.name);
    const pkg = process.env.npm_package_name ?? "tests";
    if (skipped.length === 0) {
      process.stdout.write(`[skip-summary] ${pkg}: 0 tests skipped\n`);
      return;
    }
    process.stdout.write(`[skip-summary] ${pkg}: ${skipped.length} tests skipped\n`);
    const suites = new Map();
    for (const s of skipped) {
      const suite = s.split(" > ").slice(0, -1).join(" > ");
      suites.set(suite, (suites.get(suite) ?? 0) + 1);
    }
    for (const [suite, n] of suites) process.stdout.write(`[skip-summary]   ${n} in ${suite}\n`);
  }
}
