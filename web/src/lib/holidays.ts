// The calendar data names holidays in English (from the State Council notices' data set).

const NAMES: Record<string, string> = {
  "new year's day": '元旦',
  'spring festival': '春节',
  'tomb-sweeping day': '清明节',
  'labour day': '劳动节',
  'labor day': '劳动节',
  'dragon boat festival': '端午节',
  'mid-autumn festival': '中秋节',
  'national day': '国庆节',
}

/** `National Day, Mid-autumn Festival` → `国庆节、中秋节`; unknown names stay as they are. */
export function holidayName(name: string): string {
  return name
    .split(/\s*[,/&]\s*|\s+and\s+/i)
    .filter(Boolean)
    .map((part) => NAMES[part.trim().toLowerCase()] ?? part.trim())
    .join('、')
}
