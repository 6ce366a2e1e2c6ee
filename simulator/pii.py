"""Fake but realistic-looking personal data for the customer master: names, IDs, phones, addresses.

Everything is built by vectorised string concatenation from small syllable arrays; nothing is real.
"""

from __future__ import annotations

import numpy as np

SURNAMES = np.array(
    list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
        "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
    )
)
GIVEN = np.array(
    list(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅文斌宇浩然轩欣怡涵俊晓东海燕春鹏飞"
        "佳琪思远晨阳雪婷慧琳凯鑫博瑞嘉怡子萱雨泽宏诚德荣秀英林峰波辉亮"
    )
)
BRAND = np.array(list("宏鑫华盛达信恒瑞丰源泰昌隆兴嘉鼎汇润博创远锦诚安邦通宝金顺祥和永新"))
ROAD = np.array(list("建设人民解放中山和平胜利新华文化长江黄河青年光明友谊复兴幸福园林科技"))
ROAD_KIND = np.array(["路", "街", "大道", "路", "路"])
ESTATE_KIND = np.array(["花园物业", "家园物业", "苑物业服务中心", "小区物业", "公寓物业"])
PHONE_PREFIX = np.array([f"{p}" for p in (*range(130, 140), *range(150, 160), *range(180, 190))])

# Business-name suffix per industry code, so the name reads like the industry.
INDUSTRY_SUFFIX = {
    "B06": "煤业有限公司",
    "C13": "食品加工有限公司",
    "C17": "纺织有限公司",
    "C26": "化工有限公司",
    "C30": "建材有限公司",
    "C31": "钢铁有限公司",
    "C33": "金属制品有限公司",
    "C38": "电气机械有限公司",
    "C39": "电子科技有限公司",
    "F51": "商贸有限公司",
    "F52": "超市",
    "H61": "大酒店",
    "H62": "餐饮店",
    "I65": "软件有限公司",
    "J66": "银行营业部",
    "K70": "物业管理有限公司",
    "L72": "商务服务有限公司",
    "A01": "农业专业合作社",
    "A03": "养殖场",
    "A04": "渔业合作社",
    "A05": "灌溉服务站",
    "P83": "学校",
    "Q84": "医院",
    "N77": "污水处理厂",
    "D46": "自来水厂",
    "S92": "街道办事处",
}
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
_CREDIT_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))


def _cat(*parts: np.ndarray) -> np.ndarray:
    out = parts[0].astype(str)
    for p in parts[1:]:
        out = np.strings.add(out, p.astype(str))
    return out


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.strings.zfill(rng.integers(0, 10**width, size=n).astype(str), width)


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    # Surname frequency is very skewed in China; a Zipf-like weight gives the familiar look.
    w = 1.0 / np.arange(1, SURNAMES.size + 1) ** 0.8
    surname = SURNAMES[rng.choice(SURNAMES.size, size=n, p=w / w.sum())]
    first = GIVEN[rng.integers(0, GIVEN.size, size=n)]
    second = np.where(rng.random(n) < 0.7, GIVEN[rng.integers(0, GIVEN.size, size=n)], "")
    return _cat(surname, first, second)


def business_names(
    rng: np.random.Generator, district: np.ndarray, industry: np.ndarray, community: np.ndarray
) -> np.ndarray:
    n = district.size
    brand = _cat(BRAND[rng.integers(0, BRAND.size, n)], BRAND[rng.integers(0, BRAND.size, n)])
    codes, inverse = np.unique(industry, return_inverse=True)
    suffix = np.array([INDUSTRY_SUFFIX.get(c, "有限公司") for c in codes] or [""])[inverse]
    estate = ESTATE_KIND[rng.integers(0, ESTATE_KIND.size, n)]
    place = np.strings.replace(district, "区", "")
    return np.where(community, _cat(brand, estate), _cat(place, brand, suffix))


def resident_id_numbers(
    rng: np.random.Generator, region: np.ndarray, birth_year: np.ndarray
) -> np.ndarray:
    """18-digit resident ID: region, birth date, sequence and a valid ISO 7064 check digit."""
    n = region.size
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    body = _cat(
        region,
        birth_year.astype(str),
        np.strings.zfill(month.astype(str), 2),
        np.strings.zfill(day.astype(str), 2),
        _digits(rng, n, 3),
    )
    digits = body.astype("S17").view("S1").reshape(n, 17).astype(np.int64)
    return _cat(body, _ID_CHECK[(digits @ _ID_WEIGHTS) % 11])


def credit_codes(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """18-character unified social credit code of an organisation (format only)."""
    n = region.size
    tail = _CREDIT_CHARS[rng.integers(0, _CREDIT_CHARS.size, size=(n, 10))]
    return _cat(np.full(n, "91"), region, *tail.T)


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    return _cat(PHONE_PREFIX[rng.integers(0, PHONE_PREFIX.size, n)], _digits(rng, n, 8))


def addresses(
    rng: np.random.Generator, district: np.ndarray, residential: np.ndarray
) -> np.ndarray:
    n = district.size
    road = _cat(
        ROAD[rng.integers(0, ROAD.size, n)],
        ROAD[rng.integers(0, ROAD.size, n)],
        ROAD_KIND[rng.integers(0, ROAD_KIND.size, n)],
    )
    street = _cat(district, road, rng.integers(1, 600, n), np.full(n, "号"))
    flat = _cat(
        rng.integers(1, 40, n),
        np.full(n, "栋"),
        rng.integers(1, 33, n),
        np.strings.zfill(rng.integers(1, 5, n).astype(str), 2),
        np.full(n, "室"),
    )
    return np.where(residential, _cat(street, flat), street)
