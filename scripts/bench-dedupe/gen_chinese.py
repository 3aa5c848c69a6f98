#!/usr/bin/env python3
"""Synthetic Chinese customer records with known duplicates, for `custos dedupe` and Splink.

Deterministic for a given --seed. Writes a CSV with our field keys plus `record_id` and
`true_cluster` (the ground truth: rows with the same value are the same party).

Parties: ~70 % organisations, ~30 % individuals. Each party has 1 record, or 2-4 when it
has duplicates (about 35 % do). A duplicate is the original with several variants applied:
  - legal-form suffix forms (有限公司 / 有限责任公司 / 股份公司 ...)
  - region prefix forms (深圳 / 深圳市 / (深圳) / 广东省深圳市 / none)
  - traditional characters, full-width letters and brackets, inserted spaces
  - a homophone typo (a character replaced by another with the same pinyin)
  - a non-homophone one-character typo
  - the short name (简称) entered as the name, or a former name after a rename (曾用名)
  - phone formats (+86, spaces, hyphens, brackets), a missing phone, e-mail case
  - USCC / id number / address / region fields missing
People also get: a homophone or look-alike character in the given name (张秀荣/张绣荣,
林德军/林德君), re-entered at the same flat with a new mobile and no id number; and a few
moved (another city, address and mobile, no id number: rightly left apart, a miss here).
Hard negatives (different parties that look alike):
  - the same brand and industry in another city, with its own USCC and phone
  - a branch (XX分公司) of an organisation, with its own USCC
  - namesakes: people with the same name in the same city, other id number and phone
    (the surname/given-name pools also make many accidental namesakes)
  - households: members sharing the flat and a landline or mobile, with other given names,
    the same family name (children, siblings, often one generation character shared) or
    another (a spouse)
"""

import argparse
import csv
import random
import sys

from opencc import OpenCC
from pypinyin import lazy_pinyin

S2T = OpenCC("s2t")

# (region code of a district, city short name, city full name, province full name, area code)
CITIES = [
    ("110105", "北京", "北京市", "北京市", "010", ["朝阳区", "海淀区", "东城区", "西城区", "丰台区"]),
    ("310115", "上海", "上海市", "上海市", "021", ["浦东新区", "徐汇区", "静安区", "黄浦区", "闵行区"]),
    ("440305", "深圳", "深圳市", "广东省", "0755", ["南山区", "福田区", "罗湖区", "宝安区", "龙岗区"]),
    ("440106", "广州", "广州市", "广东省", "020", ["天河区", "越秀区", "海珠区", "白云区", "番禺区"]),
    ("330106", "杭州", "杭州市", "浙江省", "0571", ["西湖区", "上城区", "拱墅区", "滨江区", "余杭区"]),
    ("320106", "南京", "南京市", "江苏省", "025", ["鼓楼区", "玄武区", "秦淮区", "建邺区", "江宁区"]),
    ("320505", "苏州", "苏州市", "江苏省", "0512", ["虎丘区", "吴中区", "相城区", "姑苏区", "吴江区"]),
    ("420106", "武汉", "武汉市", "湖北省", "027", ["武昌区", "江汉区", "洪山区", "江岸区", "汉阳区"]),
    ("510107", "成都", "成都市", "四川省", "028", ["武侯区", "锦江区", "青羊区", "金牛区", "成华区"]),
    ("500103", "重庆", "重庆市", "重庆市", "023", ["渝中区", "江北区", "南岸区", "渝北区", "九龙坡区"]),
    ("120101", "天津", "天津市", "天津市", "022", ["和平区", "河西区", "南开区", "河东区", "红桥区"]),
    ("610113", "西安", "西安市", "陕西省", "029", ["雁塔区", "碑林区", "新城区", "莲湖区", "未央区"]),
    ("430104", "长沙", "长沙市", "湖南省", "0731", ["岳麓区", "芙蓉区", "天心区", "开福区", "雨花区"]),
    ("370102", "济南", "济南市", "山东省", "0531", ["历下区", "市中区", "槐荫区", "天桥区", "历城区"]),
    ("370202", "青岛", "青岛市", "山东省", "0532", ["市南区", "市北区", "黄岛区", "崂山区", "李沧区"]),
    ("350203", "厦门", "厦门市", "福建省", "0592", ["思明区", "湖里区", "集美区", "海沧区", "同安区"]),
    ("410105", "郑州", "郑州市", "河南省", "0371", ["金水区", "中原区", "二七区", "管城回族区", "惠济区"]),
    ("340104", "合肥", "合肥市", "安徽省", "0551", ["蜀山区", "瑶海区", "庐阳区", "包河区"]),
    ("210102", "沈阳", "沈阳市", "辽宁省", "024", ["和平区", "沈河区", "大东区", "皇姑区", "铁西区"]),
    ("530102", "昆明", "昆明市", "云南省", "0871", ["五华区", "盘龙区", "官渡区", "西山区"]),
    ("330203", "宁波", "宁波市", "浙江省", "0574", ["海曙区", "江北区", "北仑区", "镇海区", "鄞州区"]),
    ("441900", "东莞", "东莞市", "广东省", "0769", []),
    ("360102", "南昌", "南昌市", "江西省", "0791", ["东湖区", "西湖区", "青云谱区", "青山湖区"]),
    ("450103", "南宁", "南宁市", "广西壮族自治区", "0771", ["青秀区", "兴宁区", "江南区", "西乡塘区"]),
]

BRAND_CHARS = (
    "华盛鑫达通瑞恒泰宏安信德源金海天中联嘉创新汇博远腾凯星宇晟辰锦丰顺利兴隆昌和美佳优智云易"
    "朗诚正大东方南北光明阳春秋雅尚品成龙凤祥福禄寿康宁永久长富贵荣耀飞翔万千百合众力同心至"
    "诺威盈科普高峰远航港湾湖山川林森志强伟业建国平乐欣悦晨曦蓝天白云绿洲红星银河"
)
INDUSTRIES = [
    "科技", "贸易", "商贸", "实业", "电子", "信息技术", "网络科技", "建筑工程", "物流", "餐饮管理",
    "医药", "食品", "机械设备", "文化传媒", "教育咨询", "房地产开发", "投资管理", "环保科技",
    "新能源", "生物科技", "服装", "家具", "汽车销售", "印刷", "化工", "电气", "农业发展",
    "供应链管理", "广告", "人力资源", "软件", "智能装备", "通信设备", "医疗器械", "酒店管理",
]
INDUSTRY_CODES = ["I", "F", "C", "G", "H", "K", "L", "M", "P", "Q", "R"]
LEGAL_FORMS = [("有限公司", 60), ("有限责任公司", 15), ("股份有限公司", 12), ("集团有限公司", 3)]
LEGAL_VARIANTS = {
    "有限公司": ["有限责任公司"],
    "有限责任公司": ["有限公司"],
    "股份有限公司": ["股份公司"],
    "集团有限公司": ["集团有限责任公司"],
}
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
SURNAME_WEIGHTS = [max(1, 60 - 1.2 * i) for i in range(len(SURNAMES))]
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红玉梅晶鑫宇浩然子涵欣怡雨轩博文俊杰思远佳琪志强海燕"
         "荣德洁莉宁钢慧嘉天振彬婷玲琳峰辉")
# Characters confused in given names: written alike, or chosen alike for one sound when a
# name is dictated (a clerk's common slips; each pair seen in real registers).
LOOK_ALIKE = {"秀": "绣", "莉": "俐", "宁": "凝", "钢": "刚", "刚": "钢", "玲": "铃", "琳": "淋",
              "婷": "亭", "娟": "涓", "艳": "燕", "燕": "艳", "峰": "锋", "辉": "晖", "彬": "斌",
              "荣": "蓉", "军": "君", "伟": "玮", "静": "婧", "丽": "俪", "杰": "洁", "涛": "滔"}
ROADS = ["人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "黄河路", "科技路", "创业大道",
         "滨江大道", "学府路", "文化路", "光明街", "幸福路", "胜利路", "青年路", "花园路", "工业园路", "东风路"]

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]
ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def org_code(rng):
    """GB 11714 organisation code: 8 characters + check."""
    body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    vals = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    c = 11 - sum(v * w for v, w in zip(vals, ORG_W)) % 11
    check = "X" if c == 10 else "0" if c == 11 else str(c)
    return body + check


def uscc(rng, region):
    first17 = "91" + region + org_code(rng)
    s = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_W))
    check = (31 - s % 31) % 31
    return first17 + USCC_CHARS[check]


def id_number(rng, region):
    year = rng.randint(1950, 2004)
    birth = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = region + birth + f"{rng.randint(0, 999):03d}"
    s = sum(int(c) * w for c, w in zip(first17, ID_W))
    return first17 + "10X98765432"[s % 11]


def mobile(rng):
    return rng.choice(["13", "15", "18", "17", "19"]) + "".join(rng.choice("0123456789") for _ in range(9))


def landline(rng, area):
    n = 8 if len(area) == 3 else 7 + rng.randint(0, 1)
    return f"{area}-{rng.randint(2, 9)}" + "".join(rng.choice("0123456789") for _ in range(n - 1))


def homophones():
    """Characters of the pools grouped by toneless pinyin, for homophone typos."""
    pool = set(BRAND_CHARS + GIVEN + "".join(INDUSTRIES) + "测试工厂商店行业务源圆元园员缘远院愿怨渊原援"
               "维为伟位卫未威微唯围委味慰薇炜玮纬苇尾蔚魏韦惟畏"
               "华化花话滑划画桦骅铧哗"
               "达大打答搭"
               "鑫新心信欣馨芯辛薪昕"
               "盛胜圣省声升生笙晟"
               "泰太态汰钛"
               "恒衡横亨珩"
               "宏红洪鸿虹弘泓"
               "通同童铜桐彤瞳"
               "瑞锐睿蕊芮"
               "安按岸暗庵"
               "明名鸣铭茗冥"
               "佳家加嘉佳夹迦珈"
               "科可克课刻客颗"
               "技计记济纪既季寄继际"
               "贸茂帽冒貌懋"
               "易亿义艺益议意毅忆逸翼怡宜移仪"
               "荣绒蓉容溶融军君均钧俊骏")
    groups = {}
    for c in pool:
        p = lazy_pinyin(c)[0]
        groups.setdefault(p, set()).add(c)
    return {c: sorted(g - {c}) for g in groups.values() for c in g if len(g) > 1}


HOMO = homophones()


def homophone_typo(rng, s, protect=0):
    idx = [i for i, c in enumerate(s) if i >= protect and c in HOMO]
    if not idx:
        return s
    i = rng.choice(idx)
    return s[:i] + rng.choice(HOMO[s[i]]) + s[i + 1:]


def plain_typo(rng, s, protect=0):
    idx = [i for i, c in enumerate(s) if i >= protect and "\u4e00" <= c <= "\u9fff"]
    if not idx:
        return s
    i = rng.choice(idx)
    return s[:i] + rng.choice(BRAND_CHARS) + s[i + 1:]


FW = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
FW.update({"(": "（", ")": "）"})


def full_width(s):
    return "".join(FW.get(c, c) for c in s)


def phone_format(rng, p):
    if p.startswith("0"):  # landline 0755-81234567
        area, local = p.split("-", 1)
        return rng.choice([f"({area}){local}", f"{area} {local}", f"+86 {area[1:]} {local}", f"{area}{local}"])
    return rng.choice([f"+86 {p}", f"{p[:3]}-{p[3:7]}-{p[7:]}", f"{p[:3]} {p[3:7]} {p[7:]}", f"0086{p}", full_width(p)])


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.used_names = set()
        self.rows = []
        self.next_cluster = 0

    def cluster(self):
        self.next_cluster += 1
        return f"T{self.next_cluster}"

    def region_forms(self, city):
        code, short, full, prov, _, _ = city
        forms = [short, full, f"({short})", f"（{short}）"]
        if prov != full:
            forms.append(prov + full)
        return forms

    def new_org(self, city=None, brand=None, industry=None):
        rng = self.rng
        for _ in range(50):
            c = city or rng.choice(CITIES)
            b = brand or "".join(rng.choice(BRAND_CHARS) for _ in range(rng.choice([2, 2, 2, 3])))
            ind = industry or rng.choice(INDUSTRIES)
            if (c[0], b, ind) not in self.used_names:
                break
            city = brand = industry = None
        self.used_names.add((c[0], b, ind))
        form = rng.choices([f for f, _ in LEGAL_FORMS], [w for _, w in LEGAL_FORMS])[0]
        district = rng.choice(c[5]) if c[5] else ""
        region = c[0]
        return {
            "kind": "org", "city": c, "brand": b, "industry_word": ind, "form": form,
            "region_in_name": rng.random() < 0.85, "uscc": uscc(rng, region),
            "phone": landline(rng, c[4]) if rng.random() < 0.7 else mobile(rng),
            "email": f"{''.join(lazy_pinyin(b))}{rng.randint(1, 999)}@{rng.choice(['163.com', 'qq.com', 'sina.com', ''.join(lazy_pinyin(b)) + '.cn'])}",
            "district": district, "road": rng.choice(ROADS), "no": rng.randint(1, 999),
            "industry": rng.choice(INDUSTRY_CODES), "branch": "",
        }

    def org_name(self, o, region_form=None, form=None):
        base = o["brand"] + o["industry_word"] + (form or o["form"])
        if o["branch"]:
            base += o["branch"]
        if region_form is None:
            region_form = o["city"][1] if o["region_in_name"] else ""
        if region_form.startswith("(") or region_form.startswith("（"):
            if self.rng.random() < 0.5:
                return region_form + base
            # 华为技术(深圳)有限公司
            f = form or o["form"]
            return o["brand"] + o["industry_word"] + region_form + f + (o["branch"] or "")
        return region_form + base

    def org_row(self, o, cluster):
        c = o["city"]
        return {
            "customer_type": "enterprise", "name": self.org_name(o),
            "short_name": o["brand"] if self.rng.random() < 0.3 else "", "former_names": "",
            "uscc": o["uscc"], "id_number": "", "phone": o["phone"], "email": o["email"],
            "province": c[3], "city": c[2], "district": o["district"],
            "address": f"{c[2]}{o['district']}{o['road']}{o['no']}号", "industry": o["industry"],
            "true_cluster": cluster,
        }

    def org_variant(self, o, row):
        rng = self.rng
        r = dict(row)
        c = o["city"]
        region_form = rng.choice(self.region_forms(c) + [""]) if o["region_in_name"] or rng.random() < 0.3 else ""
        form = rng.choice([o["form"]] + LEGAL_VARIANTS[o["form"]])
        name = self.org_name(o, region_form, form)
        protect = len(region_form)
        ops = rng.sample(["trad", "homophone", "typo", "fullwidth", "space", "short", "former"], k=rng.choice([1, 1, 2, 2, 3]))
        if "homophone" in ops:
            name = name[:protect] + homophone_typo(rng, name[protect:])
        elif "typo" in ops and rng.random() < 0.5:
            name = name[:protect] + plain_typo(rng, name[protect:])
        if "trad" in ops:
            name = S2T.convert(name)
        if "fullwidth" in ops:
            name = full_width(name)
        if "space" in ops:
            i = rng.randint(1, max(1, len(name) - 1))
            name = name[:i] + " " + name[i:]
        if "short" in ops and row["short_name"]:
            name = row["short_name"]
        r["name"] = name
        r["short_name"] = row["short_name"] if rng.random() < 0.5 else ""
        if "former" in ops:
            # Renamed: the new name, with the old one as former name.
            new_brand = o["brand"] + rng.choice(BRAND_CHARS)
            r["former_names"] = row["name"]
            r["name"] = (c[1] if o["region_in_name"] else "") + new_brand + o["industry_word"] + o["form"]
        self.vary_common(r, row)
        return r

    def vary_common(self, r, row):
        rng = self.rng
        if rng.random() < 0.45:
            r["uscc"] = ""
            r["id_number"] = ""
        if rng.random() < 0.25:
            r["phone"] = ""
        elif rng.random() < 0.6:
            r["phone"] = phone_format(rng, row["phone"])
        if rng.random() < 0.3:
            r["email"] = ""
        elif rng.random() < 0.3:
            r["email"] = row["email"].upper()
        if rng.random() < 0.3:
            r["province"] = r["city"] = r["district"] = ""
        if rng.random() < 0.3:
            r["address"] = ""
        elif rng.random() < 0.3:
            r["address"] = r["address"].replace("号", "").replace(r["city"], "")
        if rng.random() < 0.2:
            r["industry"] = ""

    def new_person(self, city=None, name=None):
        rng = self.rng
        c = city or rng.choice(CITIES)
        surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
        district = rng.choice(c[5]) if c[5] else ""
        return {
            "kind": "person", "city": c, "name": name or surname + given, "id": id_number(rng, c[0]),
            "phone": mobile(rng), "email": f"u{rng.randint(10000, 99999999)}@{rng.choice(['163.com', 'qq.com', '126.com'])}" if rng.random() < 0.5 else "",
            "district": district, "road": rng.choice(ROADS), "no": rng.randint(1, 999),
            "flat": f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 32)}{rng.randint(1, 4):02d}室",
        }

    def household_member(self, p):
        """Another person of p's household: the same flat and phone, another given name;
        the same family name (a child or sibling, often sharing a generation character)
        or another one (a spouse)."""
        rng = self.rng
        q = self.new_person(city=p["city"])
        q.update({k: p[k] for k in ("district", "road", "no", "flat", "phone")})
        name = p["name"]
        if rng.random() < 0.7:
            surname = name[0]
            given = name[1:]
            for _ in range(20):
                if len(given) == 2 and rng.random() < 0.4:
                    # A generation character shared: 王嘉天 / 王嘉元.
                    g = given[0] + rng.choice(GIVEN)
                else:
                    g = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
                if g != given and not self.alike(g, given):
                    q["name"] = surname + g
                    break
        if q["name"][0] == name[0] and q["name"] == name:
            q["name"] = rng.choice([s for s in SURNAMES if s != name[0]]) + name[1:]
        if rng.random() < 0.4:
            q["email"] = ""
        return q

    @staticmethod
    def alike(a, b):
        """Two given names a clerk could mistake for one another."""
        if len(a) != len(b):
            return False
        return all(x == y or LOOK_ALIKE.get(x) == y or LOOK_ALIKE.get(y) == x
                   or lazy_pinyin(x) == lazy_pinyin(y) for x, y in zip(a, b))

    def person_row(self, p, cluster):
        c = p["city"]
        return {
            "customer_type": "individual", "name": p["name"], "short_name": "", "former_names": "",
            "uscc": "", "id_number": p["id"], "phone": p["phone"], "email": p["email"],
            "province": c[3], "city": c[2], "district": p["district"],
            "address": f"{c[2]}{p['district']}{p['road']}{p['no']}号{p['flat']}", "industry": "",
            "true_cluster": cluster,
        }

    def person_variant(self, p, row):
        rng = self.rng
        r = dict(row)
        op = rng.choice(["none", "trad", "homophone", "space", "none", "lookalike"])
        name = row["name"]
        if op == "trad":
            name = S2T.convert(name)
        elif op == "homophone":
            name = name[0] + homophone_typo(rng, name[1:])
        elif op == "lookalike":
            idx = [i for i, ch in enumerate(name) if i >= 1 and ch in LOOK_ALIKE]
            if idx:
                i = rng.choice(idx)
                name = name[:i] + LOOK_ALIKE[name[i]] + name[i + 1:]
        elif op == "space":
            name = name[0] + " " + name[1:]
        r["name"] = name
        self.vary_common(r, row)
        x = rng.random()
        if x < 0.15:
            # Re-entered at the same flat with a new mobile and without the id number.
            r["phone"] = mobile(rng)
            r["id_number"] = ""
            r["address"] = row["address"]
        elif x < 0.17:
            # Moved: another city, address and mobile, no id number.
            c = rng.choice([c for c in CITIES if c[0] != p["city"][0]])
            d = rng.choice(c[5]) if c[5] else ""
            r.update({"province": c[3], "city": c[2], "district": d, "id_number": "", "phone": mobile(rng),
                      "address": f"{c[2]}{d}{rng.choice(ROADS)}{rng.randint(1, 999)}号", "email": "",
                      "variant": "moved"})
        if not r["id_number"] and not r["phone"]:
            # Someone entering a person keeps at least one way to reach them.
            r["phone"] = phone_format(rng, row["phone"])
        return r

    def emit(self, row):
        self.rows.append(row)

    def party_copies(self):
        return self.rng.choices([1, 2, 3, 4], [65, 22, 9, 4])[0]

    def build(self, n):
        rng = self.rng
        while len(self.rows) < n:
            x = rng.random()
            if x < 0.70:
                o = self.new_org()
                cl = self.cluster()
                row = self.org_row(o, cl)
                self.emit(row)
                for _ in range(self.party_copies() - 1):
                    self.emit(self.org_variant(o, row))
                y = rng.random()
                if y < 0.08:  # same brand and industry, another city: a different company
                    other_city = rng.choice([c for c in CITIES if c[0] != o["city"][0]])
                    o2 = self.new_org(city=other_city, brand=o["brand"], industry=o["industry_word"])
                    o2["region_in_name"] = True
                    o2["form"] = o["form"]
                    self.emit(self.org_row(o2, self.cluster()))
                elif y < 0.13:  # a branch: its own legal entity
                    b = dict(o)
                    b["branch"] = rng.choice(CITIES)[1] + rng.choice(["分公司", "分公司", "办事处"])
                    b["uscc"] = uscc(rng, o["city"][0])
                    b["phone"] = landline(rng, o["city"][4])
                    b["email"] = ""
                    self.emit(self.org_row(b, self.cluster()))
            else:
                p = self.new_person()
                cl = self.cluster()
                row = self.person_row(p, cl)
                self.emit(row)
                for _ in range(self.party_copies() - 1):
                    self.emit(self.person_variant(p, row))
                if rng.random() < 0.1:  # a namesake in the same city
                    q = self.new_person(city=p["city"], name=p["name"])
                    self.emit(self.person_row(q, self.cluster()))
                if rng.random() < 0.25:  # one or two household members
                    for _ in range(rng.choice([1, 1, 2])):
                        q = self.household_member(p)
                        row_q = self.person_row(q, self.cluster())
                        if rng.random() < 0.45:
                            row_q["id_number"] = ""
                        self.emit(row_q)
        del self.rows[n:]
        rng.shuffle(self.rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    g = Gen(a.seed)
    g.build(a.n)
    cols = ["record_id", "customer_type", "name", "short_name", "former_names", "uscc", "id_number",
            "phone", "email", "province", "city", "district", "address", "industry", "true_cluster",
            "variant"]
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        for i, r in enumerate(g.rows):
            r["record_id"] = f"R{i + 1}"
            w.writerow(r)
    print(f"wrote {len(g.rows)} rows, {len({r['true_cluster'] for r in g.rows})} parties to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
