// The leader cockpit (领导驾驶舱): the districts as a heat grid, the trend, the warnings.
import type { Cockpit, CockpitDistrict, CockpitWarning } from '../api/types'

/** The cockpit reloads itself this often. */
export const COCKPIT_REFRESH_MS = 60_000

/** Light to dark: the heat levels 1–6 (0, no requests, is the first). */
export const HEAT_COLORS = ['#eef3f9', '#d3e2f3', '#a9c6e8', '#7aa6d8', '#4b82c3', '#275ea3', '#123a70'] as const
export const HEAT_LEVELS = HEAT_COLORS.length - 1

export interface HeatTile extends CockpitDistrict {
  /** 0 for none; 1…HEAT_LEVELS, the busiest district at HEAT_LEVELS. */
  level: number
  color: string
  /** Readable text on the tile. */
  ink: string
  /** Share of all the districts' requests, 0–1. */
  share: number
}

/** The districts as tiles, busiest first, coloured by their share of the busiest one. */
export function heatTiles(districts: readonly CockpitDistrict[]): HeatTile[] {
  const max = Math.max(0, ...districts.map((d) => d.orders))
  const sum = districts.reduce((a, d) => a + Math.max(0, d.orders), 0)
  return [...districts]
    .sort((a, b) => b.orders - a.orders || a.code.localeCompare(b.code))
    .map((d) => {
      const level = d.orders > 0 && max > 0 ? Math.max(1, Math.ceil((d.orders / max) * HEAT_LEVELS)) : 0
      return {
        ...d,
        level,
        color: HEAT_COLORS[level],
        ink: level >= 4 ? '#ffffff' : '#1f2d3d',
        share: sum > 0 ? d.orders / sum : 0,
      }
    })
}

/** The 30-day trend for the line chart: `MM-DD` labels and the counts. */
export function trendSeries(trend: Cockpit['trend']): { x: string[]; data: number[] } {
  return { x: trend.map((d) => d.date.slice(5)), data: trend.map((d) => d.orders) }
}

/** The orders of the last 30 days (the trend's sum). */
export function trendTotal(trend: Cockpit['trend']): number {
  return trend.reduce((a, d) => a + d.orders, 0)
}

/** `A区 · 供水：今日 12 件，平日约 2.5 件`. */
export function warningText(w: CockpitWarning): string {
  const base = Math.round(w.baseline * 10) / 10
  return `${w.region} · ${w.category}：今日 ${w.count} 件，平日约 ${base} 件/天`
}

export function warningLevelLabel(level: string): string {
  return level === 'red' ? '红色预警' : level === 'yellow' ? '黄色预警' : level
}
