package synth

import (
	"fmt"
	"math/rand/v2"

	"jifen/internal/platform/ident"
)

var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")

var givenChars = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩凯健俊帆帅旭宁博文昊天佳琪雨欣梓涵子轩一诺思远晨曦嘉怡雪梅建国志强海燕晓东春生")

func personName(r *rand.Rand) string {
	n := string(surnames[r.IntN(len(surnames))])
	k := 1 + r.IntN(2)
	for i := 0; i < k; i++ {
		n += string(givenChars[r.IntN(len(givenChars))])
	}
	return n
}

var (
	firmPlace = []string{"京华", "中关", "燕山", "长城", "首创", "北辰", "天坛", "金融街", "望京", "亦庄", "未来", "星河", "东方", "华信", "博睿", "恒通", "瑞丰", "智联", "远航", "同创"}
	firmTrade = []string{"科技", "信息技术", "软件", "生物医药", "新能源", "文化传媒", "咨询", "工程设计", "金融服务", "智能制造", "电子商务", "物流", "教育科技", "医疗器械", "建筑", "环保"}
	firmForm  = []string{"有限公司", "有限责任公司", "股份有限公司"}
	streets   = []string{"中关村大街", "建国路", "长安街", "学院路", "望京街", "科创十三街", "金融大街", "回龙观东大街", "丰台北路", "石景山路", "通州新华大街", "顺义府前街"}
)

func firmName(r *rand.Rand, i int) string {
	return fmt.Sprintf("北京%s%s%s", firmPlace[r.IntN(len(firmPlace))], firmTrade[r.IntN(len(firmTrade))],
		firmForm[r.IntN(len(firmForm))]) + suffix(i)
}

// suffix keeps names mostly unique without looking generated: most firms get
// none, a few a branch name.
func suffix(i int) string {
	if i%7 == 0 {
		return fmt.Sprintf("第%d分公司", i%97+1)
	}
	return ""
}

func address(r *rand.Rand, district string) string {
	return fmt.Sprintf("北京市%s%s%d号", district, streets[r.IntN(len(streets))], 1+r.IntN(300))
}

// districtWeights puts most employers where most jobs are.
var districtWeights = []struct {
	name string
	w    int
}{
	{"海淀区", 22}, {"朝阳区", 22}, {"东城区", 6}, {"西城区", 8}, {"丰台区", 7}, {"石景山区", 3}, {"通州区", 5}, {"昌平区", 6},
	{"大兴区", 6}, {"顺义区", 5}, {"房山区", 3}, {"门头沟区", 1}, {"怀柔区", 2}, {"平谷区", 1}, {"密云区", 2}, {"延庆区", 1},
}

func district(r *rand.Rand) string {
	total := 0
	for _, d := range districtWeights {
		total += d.w
	}
	x := r.IntN(total)
	for _, d := range districtWeights {
		if x < d.w {
			return d.name
		}
		x -= d.w
	}
	return "海淀区"
}

// creditCode makes a valid, unique 统一社会信用代码 from an index: "91"
// (enterprise), a Beijing district code, nine characters from i, and the
// GB 32100 check character.
func creditCode(i int) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	body := make([]byte, 9)
	x := i
	for k := 8; k >= 0; k-- {
		body[k] = alphabet[x%31]
		x /= 31
	}
	first := "91110108" + string(body)
	c, _ := ident.CreditCodeCheckChar(first)
	return first + string(c)
}

// idRegions are the home provinces of non-Beijing applicants.
var idRegions = []string{"130102", "140105", "150102", "210102", "220102", "230102", "320102", "330102", "340102", "350102",
	"360102", "370102", "410102", "420102", "430102", "440103", "450102", "500103", "510104", "610102", "620102", "120101"}

func mobile(r *rand.Rand) string {
	return fmt.Sprintf("1%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000))
}

// idNumber makes a valid ID number for a birth date, sex and sequence.
func idNumber(region string, y, m, d, seq int, male bool) string {
	s := seq%500*2 + 1
	if !male {
		s--
	}
	first := fmt.Sprintf("%s%04d%02d%02d%03d", region, y, m, d, s%1000)
	c, _ := ident.IDCheckChar(first)
	return first + string(c)
}
