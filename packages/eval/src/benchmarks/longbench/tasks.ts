/**
 * The LongBench v1 English task list as data (Bai et al. 2023, "LongBench: A Bilingual, Multitask
 * Benchmark for Long Context Understanding"). Per task: the official prompt template (THUDM/LongBench
 * `config/dataset2prompt.json`), the maximum generation length in tokens (`config/dataset2maxlen.json`)
 * and the metric (`eval.py`'s dataset2metric). Templates are filled by replacing `{context}` and
 * `{input}` with the row's fields. Chinese tasks (multifieldqa_zh, dureader, vcsum, lsht,
 * passage_retrieval_zh) are not listed: their metrics need jieba word segmentation.
 */
export type LongBenchMetricName = "qa_f1" | "rouge_l" | "classification" | "retrieval" | "count" | "code_sim";

export interface LongBenchTask {
  /** The `dataset` field of the task's rows and the name of its file (`<name>.jsonl`). */
  name: string;
  category: "single-doc QA" | "multi-doc QA" | "summarization" | "few-shot" | "synthetic" | "code";
  prompt: string;
  maxGen: number;
  metric: LongBenchMetricName;
  /** Score only the first line of the prediction (eval.py does this for trec, triviaqa, samsum, lsht). */
  firstLineOnly: boolean;
  /** pred.py skips the chat template for these (few-shot and code continuation tasks). */
  noChatTemplate: boolean;
}

const QA_PASSAGES =
  "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:";

export const LONGBENCH_TASKS: readonly LongBenchTask[] = [
  {
    name: "narrativeqa",
    category: "single-doc QA",
    prompt:
      "You are given a story, which can be either a novel or a movie script, and a question. Answer the question as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
    maxGen: 128,
    metric: "qa_f1",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "qasper",
    category: "single-doc QA",
    prompt:
      'You are given a scientific article and a question. Answer the question as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write "unanswerable". If the question is a yes/no question, answer "yes", "no", or "unanswerable". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write "unanswerable". If the question is a yes/no question, answer "yes", "no", or "unanswerable". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:',
    maxGen: 128,
    metric: "qa_f1",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "multifieldqa_en",
    category: "single-doc QA",
    prompt:
      "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:",
    maxGen: 64,
    metric: "qa_f1",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  { name: "hotpotqa", category: "multi-doc QA", prompt: QA_PASSAGES, maxGen: 32, metric: "qa_f1", firstLineOnly: false, noChatTemplate: false },
  { name: "2wikimqa", category: "multi-doc QA", prompt: QA_PASSAGES, maxGen: 32, metric: "qa_f1", firstLineOnly: false, noChatTemplate: false },
  { name: "musique", category: "multi-doc QA", prompt: QA_PASSAGES, maxGen: 32, metric: "qa_f1", firstLineOnly: false, noChatTemplate: false },
  {
    name: "gov_report",
    category: "summarization",
    prompt:
      "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:",
    maxGen: 512,
    metric: "rouge_l",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "qmsum",
    category: "summarization",
    prompt:
      "You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:",
    maxGen: 512,
    metric: "rouge_l",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "multi_news",
    category: "summarization",
    prompt:
      "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, write a one-page summary of all the news.\n\nSummary:",
    maxGen: 512,
    metric: "rouge_l",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "trec",
    category: "few-shot",
    prompt: "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}",
    maxGen: 64,
    metric: "classification",
    firstLineOnly: true,
    noChatTemplate: true,
  },
  {
    name: "triviaqa",
    category: "few-shot",
    prompt: "Answer the question based on the given passage. Only give me the answer and do not output any other words. The following are some examples.\n\n{context}\n\n{input}",
    maxGen: 32,
    metric: "qa_f1",
    firstLineOnly: true,
    noChatTemplate: true,
  },
  {
    name: "samsum",
    category: "few-shot",
    prompt: "Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n{input}",
    maxGen: 128,
    metric: "rouge_l",
    firstLineOnly: true,
    noChatTemplate: true,
  },
  {
    name: "passage_count",
    category: "synthetic",
    prompt:
      "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please carefully read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ",
    maxGen: 32,
    metric: "count",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "passage_retrieval_en",
    category: "synthetic",
    prompt:
      'Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number of the paragraph that the abstract is from. The answer format must be like "Paragraph 1", "Paragraph 2", etc.\n\nThe answer is: ',
    maxGen: 32,
    metric: "retrieval",
    firstLineOnly: false,
    noChatTemplate: false,
  },
  {
    name: "lcc",
    category: "code",
    prompt: "Please complete the code given below. \n{context}Next line of code:\n",
    maxGen: 64,
    metric: "code_sim",
    firstLineOnly: false,
    noChatTemplate: true,
  },
  {
    name: "repobench-p",
    category: "code",
    prompt: "Please complete the code given below. \n{context}{input}Next line of code:\n",
    maxGen: 64,
    metric: "code_sim",
    firstLineOnly: false,
    noChatTemplate: true,
  },
];

/** The task entry for `name`, or undefined. */
export function longBenchTask(name: string): LongBenchTask | undefined {
  return LONGBENCH_TASKS.find((t) => t.name === name);
}

/** Fills a task's template with a row's `context` and `input` (both placeholders, every occurrence). */
export function buildPrompt(task: LongBenchTask, row: { context: string; input: string }): string {
  // A replacer function so `$` sequences inside the data are not treated as replacement patterns.
  return task.prompt.replace(/\{(context|input)\}/g, (_, key: "context" | "input") => row[key]);
}
