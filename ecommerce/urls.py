from django.urls import path

from ecommerce import api, views

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/code/", views.cart_code, name="cart-code"),
    path("cart/code/remove/", views.cart_code_remove, name="cart-code-remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/result/", views.checkout_result, name="checkout-result"),
    path("checkout/backoffice/", views.checkout_backoffice, name="checkout-backoffice"),
    path("api/v0/basket/", api.BasketView.as_view(), name="api-basket"),
    path("api/v0/basket/items/", api.BasketItemsView.as_view(), name="api-basket-items"),
    path("api/v0/basket/code/", api.BasketCodeView.as_view(), name="api-basket-code"),
    path("api/v0/checkout/", api.CheckoutView.as_view(), name="api-checkout"),
    path("api/v0/orders/<int:order_id>/", api.OrderView.as_view(), name="api-order"),
]
