"""Compose the demo's bundled sentence pairs (src/sentemb/resources/demo-{en,zh}-{train,dev,test}.tsv).

Each sentence describes one of a few dozen hand-written scenes (who, does what, where), in one of several
wordings; a pair's 0-5 score follows how much of a scene its two sentences share: another wording of the
same scene 4.8, the place left out 4.0, another place 3.6, another subject of the same kind 2.6, the same
subject doing something else 1.2, a scene of another kind 0.2 (each +-0.2 at random). Deterministic (seed 7).
The scores come from this rule, not from annotators: they illustrate the pipeline, not a benchmark.

    python scripts/make_demo_pairs.py src/sentemb/resources
"""
import random
import sys
from pathlib import Path

EN = [  # (subject variants, action variants, place variants); a variant list holds paraphrases
    (["A man", "A guy"], ["is playing a guitar", "plays the guitar", "is strumming a guitar"], ["on a stage", "in front of a crowd"]),
    (["A woman", "A lady"], ["is slicing an onion", "cuts an onion into pieces", "is chopping an onion"], ["in a kitchen", "at the counter"]),
    (["A dog", "A puppy"], ["is running through the snow", "runs across the snow", "is racing through deep snow"], ["in the park", "near the trees"]),
    (["Two children", "Two kids"], ["are riding bicycles", "ride their bikes", "are cycling"], ["down the street", "along the road"]),
    (["A chef", "A cook"], ["is frying eggs", "fries some eggs", "is cooking eggs in a pan"], ["in a restaurant", "in a busy kitchen"]),
    (["A girl", "A young girl"], ["is reading a book", "reads a novel", "is reading a story"], ["on a bench", "under a tree"]),
    (["A boy", "A young boy"], ["is kicking a football", "kicks a soccer ball", "is playing football"], ["on the grass", "in a field"]),
    (["An old man", "An elderly man"], ["is feeding pigeons", "feeds the birds", "is throwing bread to pigeons"], ["in the square", "by the fountain"]),
    (["A cat", "A kitten"], ["is sleeping", "is asleep", "naps"], ["on the sofa", "in the sun"]),
    (["A woman", "A young woman"], ["is singing a song", "sings", "is performing a song"], ["into a microphone", "on the radio"]),
    (["A man", "A worker"], ["is painting a wall", "paints the wall", "is putting paint on a wall"], ["with a roller", "in a house"]),
    (["A horse", "A brown horse"], ["is jumping over a fence", "jumps a fence", "leaps over a fence"], ["in a field", "at a show"]),
    (["Stock prices", "Share prices"], ["fell sharply", "dropped steeply", "went down a lot"], ["on Monday", "this morning"]),
    (["The government", "The ministry"], ["announced new taxes", "introduced a new tax", "said taxes will rise"], ["on Tuesday", "last week"]),
    (["A team of scientists", "Researchers"], ["found a new planet", "discovered a new planet", "have spotted an unknown planet"], ["near a distant star", "with a telescope"]),
    (["A pilot", "The pilot"], ["is landing a plane", "lands the airplane", "is bringing the plane down"], ["at the airport", "on the runway"]),
    (["A student", "A pupil"], ["is writing an essay", "writes an essay", "is typing an essay"], ["in the library", "at a desk"]),
    (["A baby", "An infant"], ["is laughing", "laughs", "is giggling"], ["in a crib", "on a blanket"]),
    (["A man", "A fisherman"], ["is catching a fish", "catches a fish", "is reeling in a fish"], ["from a boat", "on the lake"]),
    (["Two women", "Two ladies"], ["are drinking coffee", "drink coffee", "are having coffee"], ["in a cafe", "on a terrace"]),
    (["A monkey", "A small monkey"], ["is eating a banana", "eats a banana", "is peeling a banana"], ["in a tree", "at the zoo"]),
    (["A man", "A runner"], ["is running a marathon", "runs a long race", "is taking part in a marathon"], ["in the city", "through the streets"]),
    (["The company", "The firm"], ["reported record profits", "made a record profit", "announced its highest profit ever"], ["this year", "in the last quarter"]),
    (["A woman", "A mother"], ["is washing dishes", "washes the dishes", "is cleaning the plates"], ["in the sink", "after dinner"]),
    (["A bird", "A small bird"], ["is building a nest", "builds a nest", "is making a nest"], ["in a tree", "on a roof"]),
    (["Heavy rain", "A storm"], ["flooded the roads", "caused floods on the roads", "left the streets under water"], ["in the north", "overnight"]),
    (["A man", "A driver"], ["is washing a car", "washes his car", "is cleaning a car"], ["in the driveway", "with a hose"]),
    (["A girl", "A little girl"], ["is blowing bubbles", "blows soap bubbles", "is making bubbles"], ["in the garden", "outside"]),
    (["The president", "The country's leader"], ["gave a speech", "spoke to the nation", "delivered a speech"], ["on television", "in the capital"]),
    (["A group of people", "Several people"], ["are dancing", "dance together", "are dancing to music"], ["at a party", "in a hall"]),
]

ZH = [
    (["一个男人", "一名男子"], ["正弹着吉他", "弹吉他", "正在弹奏吉他"], ["在舞台上", "在人群面前"]),
    (["一个女人", "一位女士"], ["正切着洋葱", "切洋葱", "把洋葱切成小块"], ["在厨房里", "在案板上"]),
    (["一只狗", "一条小狗"], ["踏着雪奔跑", "跑过雪地", "冒着雪飞奔"], ["在公园里", "在树林旁"]),
    (["两个孩子", "两个小孩"], ["骑着自行车", "骑单车", "正骑车"], ["在街上", "沿着马路"]),
    (["一位厨师", "一个厨师"], ["正煎着鸡蛋", "煎蛋", "用锅煎鸡蛋"], ["在饭店里", "在厨房里"]),
    (["一个女孩", "一个小女孩"], ["看书", "正读着一本书", "读故事书"], ["在长椅上", "在树下"]),
    (["一个男孩", "一个小男孩"], ["踢足球", "正踢着球", "玩足球"], ["在草地上", "在操场上"]),
    (["一位老人", "一个老大爷"], ["喂鸽子", "正给鸽子喂食", "撒面包喂鸽子"], ["在广场上", "在喷泉旁"]),
    (["一只猫", "一只小猫"], ["睡觉", "正睡着觉", "睡着了"], ["在沙发上", "在阳光下"]),
    (["股市", "股票价格"], ["大幅下跌", "急剧下滑", "跌了很多"], ["周一", "今天上午"]),
    (["政府", "有关部门"], ["宣布了新的税收政策", "出台了新税", "表示将要加税"], ["周二", "上周"]),
    (["科学家们", "研究人员"], ["发现了一颗新行星", "找到了一颗新的行星", "观测到一颗未知行星"], ["最近", "上个月"]),
    (["一名飞行员", "飞行员"], ["驾驶飞机降落", "让飞机降落", "把飞机降了下来"], ["在机场", "在跑道上"]),
    (["一个学生", "一名学生"], ["写作文", "正写着文章", "用电脑写作文"], ["在图书馆里", "在书桌前"]),
    (["一个婴儿", "一个小宝宝"], ["笑了", "正笑着", "咯咯地笑"], ["在婴儿床里", "在毯子上"]),
    (["两个女人", "两位女士"], ["喝咖啡", "正喝着咖啡", "一起喝咖啡"], ["在咖啡馆里", "在露台上"]),
    (["这家公司", "该公司"], ["利润创了新高", "取得了创纪录的利润", "宣布了历史最高利润"], ["今年", "上个季度"]),
    (["一场暴雨", "大雨"], ["淹没了道路", "导致道路积水", "让街道被水淹了"], ["昨天夜里", "周末"]),
    (["我的手机", "我的手机号"], ["无法登录账户", "登录不了", "登不上账号"], ["今天", "最近"]),
    (["借呗", "我的借呗"], ["额度不能用了", "额度用不了", "无法使用额度"], ["突然", "今天"]),
    (["这款手机", "这部手机"], ["电池很耐用", "续航时间很长", "电量很持久"], ["平时", "一般情况下"]),
    (["一群人", "很多人"], ["跳舞", "正一起跳舞", "随着音乐跳舞"], ["在晚会上", "在大厅里"]),
]

# scene kinds: p1 one person, p2 several people, a animal, n news or service (no swapped subjects/actions)
EN_CAT = ["p1", "p1", "a", "p2", "p1", "p1", "p1", "p1", "a", "p1", "p1", "a", "n", "n", "n", "p1", "p1", "p1", "p1",
          "p2", "a", "p1", "n", "p1", "a", "n", "p1", "p1", "n", "p2"]
ZH_CAT = ["p1", "p1", "a", "p2", "p1", "p1", "p1", "p1", "a", "n", "n", "n", "p1", "p1", "p1", "p2", "n", "n", "n",
          "n", "n", "p2"]
KINDS = {  # kind: (weight, score)
    "paraphrase": (4, 4.8),  # same scene, other wording
    "no_place": (2, 4.0),  # the same without its place
    "other_place": (2, 3.6),  # the scene's other place
    "other_subject": (2, 2.6),  # another subject of the same kind doing the same thing
    "other_action": (2, 1.2),  # the same subject doing something else
    "unrelated": (3, 0.2),  # a scene of another kind
}


def compose(scenes, cats, rng, n_pairs, join):
    seen, second = set(), set()
    out = []
    names = list(KINDS)
    while len(out) < n_pairs:
        i = rng.randrange(len(scenes))
        subj, act, place = scenes[i]
        p1 = rng.choice(place)
        s1 = join(rng.choice(subj), rng.choice(act), p1)
        kind = rng.choices(names, [KINDS[k][0] for k in names])[0]
        same = [k for k in range(len(scenes)) if k != i and cats[k] == cats[i]]
        if kind in ("other_subject", "other_action") and cats[i] == "n":
            continue
        j = rng.choice(same if kind != "unrelated" else [k for k in range(len(scenes)) if cats[k] != cats[i]])
        if kind == "paraphrase":
            s2 = join(rng.choice(subj), rng.choice(act), rng.choice(place))
        elif kind == "no_place":
            s2 = join(rng.choice(subj), rng.choice(act), None)
        elif kind == "other_place":
            s2 = join(rng.choice(subj), rng.choice(act), next(p for p in place if p != p1))
        elif kind == "other_subject":
            s2 = join(rng.choice(scenes[j][0]), rng.choice(act), rng.choice(place))
        elif kind == "other_action":
            s2 = join(rng.choice(subj), rng.choice(scenes[j][1]), None)
        else:
            s2 = join(rng.choice(scenes[j][0]), rng.choice(scenes[j][1]), rng.choice(scenes[j][2]))
        if s1 == s2 or (s1, s2) in seen or (s2, s1) in seen or s2 in second:
            continue
        seen.add((s1, s2))
        second.add(s2)  # each second sentence once: a search over them finds no exact duplicates
        score = min(5.0, max(0.0, KINDS[kind][1] + rng.choice([-0.2, 0.0, 0.0, 0.2])))
        out.append((s1, s2, score))
    return out


def en_join(s, a, p):
    return f"{s} {a}{'' if p is None else ' ' + p}."


def zh_join(s, a, p):
    return f"{s}{'' if p is None else p}{a}。"


def write(path: Path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("sentence1\tsentence2\tlabel\n")
        for a, b, s in rows:
            f.write(f"{a}\t{b}\t{s:.1f}\n")


def main(out: Path):
    rng = random.Random(7)
    for lang, scenes, cats, join, sizes in (("en", EN, EN_CAT, en_join, (200, 50, 80)),
                                            ("zh", ZH, ZH_CAT, zh_join, (110, 40, 60))):
        assert len(scenes) == len(cats)
        rows = compose(scenes, cats, rng, sum(sizes), join)
        a, b = sizes[0], sizes[0] + sizes[1]
        for split, part in (("train", rows[:a]), ("dev", rows[a:b]), ("test", rows[b:])):
            write(out / f"demo-{lang}-{split}.tsv", part)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
