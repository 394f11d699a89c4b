import { describe, expect, it } from 'vitest'
import { formatLines, formatSynonyms, importErrorText, kbActions, liveQuery, parseLines, parseSynonyms, validityText } from './kb'
import { Latest } from './latest'

describe('synonym groups', () => {
  it('reads one group per line, words split by spaces or commas', () => {
    const r = parseSynonyms('医保 医疗保险\n物业费,物管费， 物业管理费\n\n  公积金、住房公积金；公积  \n')
    expect(r.groups).toEqual([
      ['医保', '医疗保险'],
      ['物业费', '物管费', '物业管理费'],
      ['公积金', '住房公积金', '公积'],
    ])
    expect(r.problems).toEqual([])
  })
  it('keeps a word once per group and reports single words by line', () => {
    const r = parseSynonyms('停水 停水 断水\n低保\r\nA b')
    expect(r.groups).toEqual([
      ['停水', '断水'],
      ['A', 'b'],
    ])
    expect(r.problems).toHaveLength(1)
    expect(r.problems[0]).toContain('第 2 行')
    expect(r.problems[0]).toContain('低保')
  })
  it('formats groups back to text that parses to the same groups', () => {
    const groups = [
      ['医保', '医疗保险'],
      ['停水', '断水', '没水'],
    ]
    const text = formatSynonyms(groups)
    expect(text).toBe('医保 医疗保险\n停水 断水 没水')
    expect(parseSynonyms(text).groups).toEqual(groups)
    expect(formatSynonyms([])).toBe('')
    expect(parseSynonyms('').groups).toEqual([])
  })
})

describe('question lines', () => {
  it('keeps non-empty trimmed lines once', () => {
    expect(parseLines(' 怎么办居住证 \n\n居住证要什么材料\r\n怎么办居住证')).toEqual(['怎么办居住证', '居住证要什么材料'])
    expect(formatLines(['a', 'b'])).toBe('a\nb')
    expect(formatLines(null)).toBe('')
  })
})

describe('entry commands', () => {
  const e = (state: string, can_edit = false, can_review = false, can_withdraw = false, live_version: number | null = null) =>
    ({ state, live_version, can_edit, can_review, can_withdraw }) as Parameters<typeof kbActions>[0]
  it('offers what the state and the flags allow', () => {
    expect(kbActions(e('draft', true))).toEqual(['edit', 'submit'])
    expect(kbActions(e('draft', true, true, true))).toEqual(['edit', 'submit', 'publish'])
    // A new version of a published entry: the live one may still be withdrawn.
    expect(kbActions(e('draft', true, true, true, 1))).toEqual(['edit', 'submit', 'publish', 'withdraw'])
    expect(kbActions(e('review', true, true, true))).toEqual(['edit', 'publish', 'reject', 'withdraw'])
    expect(kbActions(e('review', false, false))).toEqual([])
    expect(kbActions(e('published', true, true, true))).toEqual(['edit', 'withdraw'])
    expect(kbActions(e('withdrawn', true, true, true))).toEqual(['edit'])
    expect(kbActions(e('published'))).toEqual([])
  })
  it('describes validity', () => {
    expect(validityText('2026-01-01', '2026-12-31')).toBe('2026-01-01 至 2026-12-31')
    expect(validityText(null, '2026-12-31')).toBe('至 2026-12-31')
    expect(validityText('2026-01-01', null)).toBe('2026-01-01 起')
    expect(validityText(null, null)).toBe('长期')
  })
})

describe('import errors', () => {
  it('names the line in Chinese', () => {
    expect(importErrorText('标题不能为空', 'line 3: title')).toBe('导入失败：标题不能为空（第 3 行：title）')
    expect(importErrorText('格式错误', 'line 12')).toBe('导入失败：格式错误（第 12 行）')
    expect(importErrorText('不支持的文件', 'file')).toBe('导入失败：不支持的文件（file）')
    expect(importErrorText('失败', null)).toBe('导入失败：失败')
  })
})

describe('live query', () => {
  it('joins title and content, collapses spaces, needs two letters', () => {
    expect(liveQuery(['', '  小区   停水\n三天 '])).toBe('小区 停水 三天')
    expect(liveQuery(['停水', '小区没水'])).toBe('停水 小区没水')
    expect(liveQuery([undefined, '水'])).toBe('')
    expect(liveQuery(['', '，。 ！'])).toBe('')
  })
  it('cuts long text by characters', () => {
    expect(liveQuery(['一二三四五六'], 4)).toBe('一二三四')
    expect(Array.from(liveQuery(['字'.repeat(500)])).length).toBe(200)
  })
})

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('Latest', () => {
  it('drops an answer that arrives after a newer request started', async () => {
    const latest = new Latest()
    const first = deferred<string>()
    const second = deferred<string>()
    const signals: AbortSignal[] = []
    const a = latest.run((s) => (signals.push(s), first.promise))
    const b = latest.run((s) => (signals.push(s), second.promise))
    expect(signals[0].aborted).toBe(true)
    expect(signals[1].aborted).toBe(false)
    second.resolve('new')
    expect(await b).toEqual({ value: 'new' })
    first.resolve('old')
    expect(await a).toBeNull()
    expect(latest.busy).toBe(false)
  })
  it('ignores the failure of a superseded request, throws the newest one’s', async () => {
    const latest = new Latest()
    const first = deferred<string>()
    const a = latest.run(() => first.promise)
    const b = latest.run(() => Promise.reject(new Error('boom')))
    first.reject(new DOMException('aborted', 'AbortError'))
    expect(await a).toBeNull()
    await expect(b).rejects.toThrow('boom')
  })
  it('cancel drops the request under way', async () => {
    const latest = new Latest()
    const d = deferred<number>()
    let signal: AbortSignal | null = null
    const a = latest.run((s) => ((signal = s), d.promise))
    expect(latest.busy).toBe(true)
    latest.cancel()
    expect(signal!.aborted).toBe(true)
    d.resolve(1)
    expect(await a).toBeNull()
    expect(await latest.run(async () => 2)).toEqual({ value: 2 })
  })
})
