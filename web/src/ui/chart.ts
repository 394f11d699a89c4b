// Shapes shared by the chart components (no ECharts here: it loads with the chart only).

export interface LineSeries {
  name: string
  data: (number | null)[]
  color?: string
  /** Drawn dashed (e.g. last year's line). */
  dashed?: boolean
  /** Drawn as bars on the same axis instead of a line. */
  bar?: boolean
}
