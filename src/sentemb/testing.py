"""Tiny randomly initialised models for tests and examples (no downloads)."""

from __future__ import annotations

from pathlib import Path

#: Chinese and Latin characters enough to tokenise the test sentences; anything else maps to [UNK].
DEFAULT_CHARS = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么"
    "心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现"
    "分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位"
    "因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师"
    "书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及"
    "今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结"
    "六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区"
    "即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友"
    "孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切买卖银"
    "行款借贷还钱卡号码账户密码修改怎么办为什么可以吗能不能手机微信支付宝花呗借呗余额信用额度利息逾期"
    "abcdefghijklmnopqrstuvwxyz0123456789"
)
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_bert(path: str | Path, extra_text: str = "", hidden_size: int = 32, num_layers: int = 2,
                   num_heads: int = 2, seed: int = 0, max_position: int = 128) -> Path:
    """Write a tiny random BERT with a character vocabulary to ``path`` (a plain HF folder)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    chars = list(dict.fromkeys(c for c in DEFAULT_CHARS + extra_text if not c.isspace()))
    (path / "vocab.txt").write_text("\n".join(SPECIAL_TOKENS + chars) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True,
                                  tokenize_chinese_chars=True, model_max_length=max_position)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + len(chars), hidden_size=hidden_size,
                        num_hidden_layers=num_layers, num_attention_heads=num_heads,
                        intermediate_size=hidden_size * 2, max_position_embeddings=max_position)
    model = BertModel(config)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path
