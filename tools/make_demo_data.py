#!/usr/bin/env python3
"""Builds the demo data shipped in crates/jiesu/demo/ from ../shared/data (run once, by hand).

The demo city is the anonymised "A市" of the real messages: districts A1区…A6区, counties A7县,
A8县 and the county-level city A9市, with the towns/streets named in the messages. Region codes
use the fictional province prefix 99 so they never clash with real GB/T 2260 codes.

Categories of the unlabelled messages are assigned by a simple character-bigram match against
the category tree (the product's own classifier comes later); request types by keywords.
"""
import collections, gzip, json, random, re, sys
from pathlib import Path

SHARED = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
OUT = Path(__file__).resolve().parent.parent / "crates" / "jiesu" / "demo"
random.seed(12345)

cats = [json.loads(l) for l in open(SHARED / "messages/categories.jsonl", encoding="utf-8")]
rows = []
for f in ["messages-with-replies.jsonl", "labelled-train.jsonl", "messages.jsonl"]:
    for l in open(SHARED / "messages" / f, encoding="utf-8"):
        rows.append(json.loads(l))

DISTRICTS = ["A1区", "A2区", "A3区", "A4区", "A5区", "A6区", "A7县", "A8县", "A9市"]
COMMUNITY_WORDS = ["东风", "新华", "建设", "和平", "青园", "湘湖", "枫林", "金桥", "育才", "光明", "朝阳", "望月",
                   "桃花", "丽景", "长安", "新民", "红星", "白沙", "清水", "德政", "仁和", "兴业", "翠湖", "芙蓉"]

def norm_time(t):
    m = re.match(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})", t.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = map(int, m.groups())
    return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"

# Towns/streets per district, from the messages themselves.
towns = collections.defaultdict(collections.Counter)
pat = re.compile(r"(A\d[区县市])([\u4e00-\u9fa5]{2,4}?(?:街道|镇|乡))")
for r in rows:
    for m in pat.finditer(r["title"] + r["content"]):
        d, t = m.groups()
        if d in DISTRICTS and not re.search(r"(已经|完成|县|的|村与|住房)", t) and t[0] not in "市县区":
            towns[d][t] += 1
FALLBACK = ["城关镇", "中心街道", "新城街道", "东城街道", "西城街道", "南湖街道", "北山镇", "白石镇"]

city = {"name": "A市", "code": "9901", "districts": [], "departments": []}
for i, d in enumerate(DISTRICTS, start=1):
    code = f"9901{i:02d}"
    names = [t for t, _ in towns[d].most_common(6)]
    for f in FALLBACK:
        if len(names) >= 4:
            break
        if f not in names:
            names.append(f)
    ts = []
    for j, t in enumerate(names, start=1):
        comms = random.sample(COMMUNITY_WORDS, 3)
        ts.append({"name": t, "code": f"{code}{j:03d}",
                   "communities": [{"name": c + ("社区" if t.endswith("街道") else "村"), "code": f"{code}{j:03d}{k:03d}"}
                                   for k, c in enumerate(comms, start=1)]})
    city["districts"].append({"name": d, "code": code, "towns": ts})

# City departments and the top-level categories they answer for (the dispatch hint of the demo).
city["departments"] = [
    {"name": "市住房和城乡建设局", "categories": ["城乡建设"]},
    {"name": "市城市管理和综合执法局", "categories": ["城乡建设"]},
    {"name": "市生态环境局", "categories": ["环境保护"]},
    {"name": "市交通运输局", "categories": ["交通运输"]},
    {"name": "市教育局", "categories": ["教育文体"]},
    {"name": "市人力资源和社会保障局", "categories": ["劳动和社会保障"]},
    {"name": "市卫生健康委员会", "categories": ["卫生计生"]},
    {"name": "市市场监督管理局", "categories": ["商贸旅游"]},
    {"name": "市公安局", "categories": ["政法"]},
    {"name": "市民政局", "categories": ["民政"]},
    {"name": "市农业农村局", "categories": ["农村农业"]},
    {"name": "市自然资源和规划局", "categories": ["国土资源"]},
    {"name": "市水务局", "categories": ["水电气暖"]},
    {"name": "国网A市供电公司", "categories": []},
]

# Category matching by character bigrams.
def bigrams(s):
    s = re.sub(r"[^\u4e00-\u9fa5]", "", s)
    return {s[i:i + 2] for i in range(len(s) - 1)}

leaf_grams = [(c, bigrams(c["level2"] + c["level3"]) | bigrams(c["level3"])) for c in cats]
def classify(text, level1=None):
    g = bigrams(text)
    best, score = None, -1
    for c, cg in leaf_grams:
        if level1 and c["level1"] != level1:
            continue
        s = len(g & cg) * 2 + len(g & bigrams(c["level1"]))
        if s > score:
            best, score = c, s
    return best

TYPE_RULES = [("praise", r"感谢|表扬|点赞|赞！|好评"), ("suggestion", r"建议|希望|呼吁|能否考虑"),
              ("report", r"举报|违规|违法|非法|偷排"), ("consultation", r"咨询|请问|如何|怎么办|是否|能不能|什么时候"),
              ("help", r"求助|帮帮|救助|困难")]
def request_type(title):
    for t, p in TYPE_RULES:
        if re.search(p, title):
            return t
    return "complaint"

def district_of(text):
    for d in DISTRICTS:
        if d in text:
            return d
    return None

out = []
seen = set()
for r in rows:
    text = r["title"] + r["content"]
    d = district_of(text)
    if d is None and not re.search(r"A市", text):
        continue
    key = r["title"]
    if key in seen:
        continue
    seen.add(key)
    t = norm_time(r["time"])
    if not t:
        continue
    town = None
    if d:
        for tw in city["districts"][DISTRICTS.index(d)]["towns"]:
            if tw["name"] in text:
                town = tw["name"]
                break
    c = classify(text, r.get("category"))
    item = {"title": r["title"][:100], "content": r["content"].strip()[:1500], "time": t,
            "category": [c["level1"], c["level2"], c["level3"]], "type": request_type(r["title"]),
            "district": d, "town": town}
    if r.get("reply"):
        item["reply"] = re.sub(r"\s+", " ", r["reply"]).strip()[:1500]
    out.append(item)

with_reply = [o for o in out if "reply" in o]
without = [o for o in out if "reply" not in o]
random.shuffle(with_reply)
random.shuffle(without)
chosen = with_reply[:1300] + without[:700]
chosen.sort(key=lambda o: o["time"])
OUT.mkdir(parents=True, exist_ok=True)
with gzip.open(OUT / "messages.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as f:
    for o in chosen:
        f.write(json.dumps(o, ensure_ascii=False) + "\n")
with open(OUT / "city.json", "w", encoding="utf-8") as f:
    json.dump(city, f, ensure_ascii=False, indent=1)
with open(OUT / "categories.jsonl", "w", encoding="utf-8") as f:
    for c in cats:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"{len(chosen)} messages ({len([o for o in chosen if 'reply' in o])} with replies), "
      f"{sum(len(d['towns']) for d in city['districts'])} towns")
