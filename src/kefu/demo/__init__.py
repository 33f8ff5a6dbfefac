"""The demo shop's fixed facts (`kefu demo`): its id and its VIP buyer, shared by the seed and
by the route that signs the buyer's identity."""

DEMO_SHOP_ID = 1
DEMO_BUYER_UID = "demo-buyer"
DEMO_BUYER_NICKNAME = "买家小王"
