"""The demo shop's fixed facts (`kefu demo`): its id and its VIP buyer, shared by the seed and
by the route that signs the buyer's identity."""

DEMO_SHOP_ID = 1
DEMO_SHOP_NAME = "小鹿优选旗舰店"
DEMO_BUYER_UID = "demo-buyer"
DEMO_BUYER_NICKNAME = "买家小王"

# `kefu demo --lively`: the demo's agents the simulated traffic plays (`owner` and `agent1` are
# left to the person watching), and its default speed (simulated seconds per real second).
LIVELY_AGENTS = ("agent2", "agent3", "agent4")
LIVELY_SPEED = 10.0
