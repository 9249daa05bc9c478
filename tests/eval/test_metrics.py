import numpy as np
import pytest

from avtpretrain.eval.metrics import qa_metrics, retrieval_metrics


def test_retrieval_hand_computed() -> None:
    # 3 texts x 3 videos; ground truth is the diagonal.
    scores = np.array(
        [
            [0.9, 0.1, 0.0],  # text 0: video 0 first → rank 0
            [0.8, 0.5, 0.1],  # text 1: video 1 second → rank 1
            [0.7, 0.6, 0.2],  # text 2: video 2 third → rank 2
        ]
    )
    out = retrieval_metrics(scores, [0, 1, 2])
    t2v = out["text2video"]
    assert t2v["r1"] == pytest.approx(100 / 3) and t2v["r5"] == 100.0
    assert t2v["medianR"] == 2.0 and t2v["meanR"] == 2.0
    # columns: video 0 → text 0 (0.9) first, rank 0; video 1 → text 1 (0.5) after text 2 (0.6),
    # rank 1; video 2 → text 2 (0.2) above 0.1 and 0.0, rank 0
    v2t = out["video2text"]
    assert v2t["r1"] == pytest.approx(200 / 3)
    assert v2t["meanR"] == pytest.approx((1 + 2 + 1) / 3) and v2t["medianR"] == 1.0


def test_ties_go_to_the_lower_column() -> None:
    scores = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    out = retrieval_metrics(scores, [0, 2])
    # text 0's video 0 wins the tie (rank 0); text 1's video 2 loses to columns 0 and 1 (rank 2)
    assert out["text2video"]["r1"] == 50.0
    assert out["text2video"]["meanR"] == pytest.approx((1 + 3) / 2)


def test_several_captions_per_video_count_the_best() -> None:
    # texts 0 and 1 describe video 0, text 2 describes video 1
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    out = retrieval_metrics(scores, [0, 0, 1])
    assert out["text2video"]["r1"] == pytest.approx(200 / 3)  # texts 1 and 2 hit
    # video 0 column: text 1 (0.8) ranks first → best caption rank 0; video 1: text 0 (0.9)
    # first, text 2 (0.7) second → rank 1
    assert out["video2text"]["r1"] == 50.0 and out["video2text"]["meanR"] == 1.5


def test_retrieval_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match"):
        retrieval_metrics(np.zeros((2, 2)), [0, 1, 1])


def test_qa_metrics_alpro_shape() -> None:
    out = qa_metrics(
        ["couch", "man", "red", "unknown-word"],
        ["couch", "woman", "red", "fast"],
        ["what", "who", "what", "how"],
    )
    assert out["overall_acc"] == 50.0
    assert out["what_acc"] == 100.0 and out["who_acc"] == 0.0 and out["how_acc"] == 0.0
    assert out["where_acc"] == 0.0 and out["when_acc"] == 0.0  # types with no questions
    assert out["ratios"]["what_ratio"] == [50.0, 2]
    assert out["ratios"]["when_ratio"] == [0.0, 0]
    assert set(out) == {
        "ratios",
        "overall_acc",
        "what_acc",
        "who_acc",
        "how_acc",
        "where_acc",
        "when_acc",
    }


def test_qa_accuracies_round_to_two_decimals() -> None:
    out = qa_metrics(["a", "b", "c"], ["a", "x", "x"], ["what"] * 3)
    assert out["overall_acc"] == 33.33 and out["what_acc"] == 33.33
